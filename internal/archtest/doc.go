// Package archtest enforces vasto's import rules as an ordinary Go test, so
// that `go test ./...` (and therefore CI) fails when a package crosses a layer
// boundary. The package has no non-test code besides this comment.
//
// The rules (module github.com/vasto-kv/vasto):
//
//   - packages under lww/ import only the standard library, directly and
//     transitively (other lww/ packages are allowed; cgo is not);
//   - only packages under store/ import github.com/linxGnu/grocksdb directly;
//   - only packages under bus/ import github.com/nats-io/... directly;
//   - packages under store/ (the shard engine) never import, even
//     transitively, bus/, github.com/nats-io/..., a RESP package (server/,
//     internal/peerclient/) or replica/ and dc/, which drive the engine;
//   - packages under server/ never import, even transitively, bus/ or
//     github.com/nats-io/...;
//   - replica/ and dc/ never import each other, even transitively: the
//     store wiring joins them through replica's CrossDC interface;
//   - client/ and its subpackages never import, even transitively and even
//     from their _test.go files, any server package: master, store, server,
//     replica, dc, bus/embedded, chaos, cmd, internal/storenode, gateway (or
//     anything below them);
//   - packages under gateway/ never import, even transitively, store/ (so
//     not server/ either; server/resp is fine), replica/, dc/, master/,
//     internal/storenode/, internal/peerclient/ or bus/embedded/: the
//     gateway routes with client/;
//   - packages under backup/ never import, even transitively, store/,
//     replica/, dc/, master/, chaos/, internal/storenode/,
//     internal/devcluster/, internal/peerclient/, bus/embedded/ or RocksDB:
//     backups and restores go through client/;
//   - only packages under cmd/ import "flag" directly;
//   - the test-support packages (internal/bustest, internal/shardtest,
//     internal/storetest, internal/disktest: helpers and in-memory twins)
//     are imported only by _test.go files and other test-support packages.
//
// Apart from the client rule, _test.go files are exempt. Packages that do not
// exist yet are simply not checked. The import graph comes from
// `go list -e -deps -test -json ./...` run at the module root, so files
// excluded by build constraints for the current GOOS/GOARCH/tags are not seen.
//
// Besides the import rules, it keeps docs/architecture.md true (every
// package of `go list` is in its layers diagram or its test support list,
// and nothing else is), and checks that every package has a doc.go whose
// comment says what the package is for and what it may import.
//
// The same rules (direct imports only) are expressed for golangci-lint's
// depguard in .golangci.yml; this test is the authoritative check because it
// also sees transitive imports.
package archtest
