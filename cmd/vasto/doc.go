// Command vasto is Vasto's one binary: `vasto nats`, `vasto master` and
// `vasto store` run the daemons, `vasto dev` a whole DC (or several) in one
// process, and the other subcommands (keyspace, store list, put, get, del,
// scan, bench, dc status, op) are the operator's and user's tools, built on
// the Go client.
//
// It is the only package that reads flags and the environment (checked by
// internal/archtest); it may import every package of the module and wires
// them with one root hclog logger.
package main
