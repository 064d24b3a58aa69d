package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/vasto-kv/vasto/client"
)

// The examples need a running DC (NATS, a master and stores), so they are
// compiled but not run.

func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.DefaultConfig("nats://127.0.0.1:4222", "dc1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("topology version", c.Topology().Version)
}

func ExampleClient_CreateKeyspace() {
	ctx := context.Background()
	c, err := client.New(ctx, client.DefaultConfig("nats://127.0.0.1:4222", "dc1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// 8 shards, each on 3 stores. CreateKeyspace returns once the keyspace
	// is in the client's topology.
	err = c.CreateKeyspace(ctx, "users", 8, 3)
	if errors.Is(err, client.ErrKeyspaceExists) {
		err = nil
	}
	if err != nil {
		log.Fatal(err)
	}
	info, err := c.DescribeKeyspace(ctx, "users")
	if err != nil {
		log.Fatal(err)
	}
	for _, sh := range info.Placement {
		fmt.Println("shard", sh.Shard, "preferred replica", sh.Replicas[0].Store, sh.Replicas[0].Addr)
	}
}

func ExampleClient_Put() {
	ctx := context.Background()
	c, err := client.New(ctx, client.DefaultConfig("nats://127.0.0.1:4222", "dc1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	res, err := c.Put(ctx, "users", []byte("alice"), []byte(`{"plan":"pro"}`),
		client.WithEventTime(time.Now().UnixNano()), client.WithTTL(24*time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	if !res.Applied {
		fmt.Println("a later write already won:", res.Version)
	}
	fmt.Println("written on", res.Store, "shard", res.Shard, "log index", res.LogIndex)
}

func ExampleClient_Get() {
	ctx := context.Background()
	c, err := client.New(ctx, client.DefaultConfig("nats://127.0.0.1:4222", "dc1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	item, err := c.Get(ctx, "users", []byte("alice"))
	switch {
	case errors.Is(err, client.ErrNotFound):
		fmt.Println("no alice")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Printf("%s = %s (version %v)\n", item.Key, item.Value, item.Version)
	}
}

func ExampleClient_Delete() {
	ctx := context.Background()
	c, err := client.New(ctx, client.DefaultConfig("nats://127.0.0.1:4222", "dc1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Delete(ctx, "users", []byte("alice")); err != nil {
		log.Fatal(err)
	}
}

func ExampleClient_BatchPut() {
	ctx := context.Background()
	c, err := client.New(ctx, client.DefaultConfig("nats://127.0.0.1:4222", "dc1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	kvs := []client.KV{
		{Key: []byte("alice"), Value: []byte("1")},
		{Key: []byte("bob"), Value: []byte("2")},
	}
	res, err := c.BatchPut(ctx, "users", kvs)
	var be *client.BatchError
	if errors.As(err, &be) {
		for i, e := range be.Errs {
			if e != nil {
				fmt.Println("item", i, "failed:", e)
			}
		}
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(res), "results")
}

func ExampleClient_BatchGet() {
	ctx := context.Background()
	c, err := client.New(ctx, client.DefaultConfig("nats://127.0.0.1:4222", "dc1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	items, err := c.BatchGet(ctx, "users", [][]byte{[]byte("alice"), []byte("bob")})
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range items {
		if it != nil {
			fmt.Printf("%s = %s\n", it.Key, it.Value)
		}
	}
}

func ExampleClient_Scan() {
	ctx := context.Background()
	c, err := client.New(ctx, client.DefaultConfig("nats://127.0.0.1:4222", "dc1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// The first 50 keys starting with "a", in key order across all shards.
	items, err := c.Scan(ctx, "users", client.ScanOptions{Prefix: []byte("a"), Limit: 50})
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range items {
		fmt.Printf("%s\n", it.Key)
	}
}

func ExampleClient_ListStores() {
	ctx := context.Background()
	c, err := client.New(ctx, client.DefaultConfig("nats://127.0.0.1:4222", "dc1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	stores, err := c.ListStores(ctx)
	if errors.Is(err, client.ErrNoMaster) {
		log.Fatal("no master is running in dc1")
	}
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range stores {
		fmt.Println(s.ID, s.Addr, s.Healthy)
	}
}
