package server

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/secure"
)

// BenchmarkTLS measures put (SET) and get (GET) throughput of one store
// with TLS off and on (mutual TLS, dev CA), side by side: 16 connections,
// 100-byte values, each op one round trip through go-redis.
//
//	go test -run '^$' -bench BenchmarkTLS -benchtime 20000x ./server/
func BenchmarkTLS(b *testing.B) {
	d, err := secure.GenerateDev(b.TempDir())
	require.NoError(b, err)
	srvTLS, err := d.Node().Server()
	require.NoError(b, err)
	cliTLS, err := d.Client().Client()
	require.NoError(b, err)
	value := make([]byte, 100)
	for _, mode := range []string{"plain", "tls"} {
		srv, _ := testServer(b, func(c *Config) {
			c.Logger = testLogger(b).Named(mode)
			if mode == "tls" {
				c.TLS = srvTLS
			}
		})
		addr := srv.Addr().String()
		opts := &redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, PoolSize: 16}
		if mode == "tls" {
			opts.TLSConfig = secure.ForAddr(cliTLS, addr)
		}
		rc := redis.NewClient(opts)
		for _, op := range []string{"put", "get"} {
			b.Run(mode+"/"+op, func(b *testing.B) {
				var n atomic.Int64
				b.SetParallelism(8) // 16 goroutines on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						k := "key" + strconv.FormatInt(n.Add(1)%10000, 10)
						var err error
						if op == "put" {
							err = rc.Set(ctx, k, value, 0).Err()
						} else {
							err = rc.Get(ctx, k).Err()
							if errors.Is(err, redis.Nil) {
								err = nil
							}
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			})
		}
		_ = rc.Close()
	}
}
