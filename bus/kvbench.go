package bus

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultKVBenchBucket is the bucket KVBench uses unless told otherwise.
const DefaultKVBenchBucket = "vasto_bench"

// KVBenchConfig configures a KVBench.
type KVBenchConfig struct {
	// Conn is the connection to the NATS server holding the bucket.
	Conn ConnConfig
	// Bucket names the key-value bucket: 1-64 of A-Z a-z 0-9 _ -.
	Bucket string
}

// DefaultKVBenchConfig returns the configuration of a KVBench on the NATS
// server at url, in DefaultKVBenchBucket.
func DefaultKVBenchConfig(url string) KVBenchConfig {
	return KVBenchConfig{Conn: ConnConfig{URL: url, Name: "vasto-bench"}, Bucket: DefaultKVBenchBucket}
}

// Validate reports whether the configuration can be used.
func (c KVBenchConfig) Validate() error {
	if c.Conn.URL == "" && len(c.Conn.Options) == 0 {
		return fmt.Errorf("%w: no NATS URL", ErrInvalidConfig)
	}
	return checkNames(c.Bucket)
}

// KVBench is a NATS JetStream key-value bucket driven as a benchmark
// baseline: file storage, one replica, one revision per key. Keys are
// arbitrary bytes, stored base64url-encoded (a NATS key is a subject token,
// so ':' or ' ' or '*' could not be used as they are). It is safe for
// concurrent use.
type KVBench struct {
	conn    *Conn
	kv      jetstream.KeyValue
	bucket  string
	created bool
}

// OpenKVBench connects (retrying until ctx ends) and opens the bucket,
// creating it if it does not exist. Close deletes the bucket only if this
// call created it.
func OpenKVBench(ctx context.Context, cfg KVBenchConfig) (*KVBench, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := Connect(ctx, cfg.Conn)
	if err != nil {
		return nil, err
	}
	b := &KVBench{conn: conn, bucket: cfg.Bucket}
	if err := b.open(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return b, nil
}

// open binds the bucket, creating it if missing (another creator winning
// the race is fine: the bucket is then used, not owned).
func (b *KVBench) open(ctx context.Context) error {
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	kv, err := b.conn.js.KeyValue(ctx, b.bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = b.conn.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      b.bucket,
			Description: "vasto bench baseline",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    1,
		})
		b.created = err == nil
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = b.conn.js.KeyValue(ctx, b.bucket)
		}
	}
	if err != nil {
		return fmt.Errorf("bus: open bucket %s: %w", b.bucket, mapErr(err))
	}
	b.kv = kv
	return nil
}

// Bucket returns the bucket's name.
func (b *KVBench) Bucket() string { return b.bucket }

// Created reports whether OpenKVBench created the bucket.
func (b *KVBench) Created() bool { return b.created }

// kvKey encodes key as a valid NATS key.
func kvKey(key []byte) (string, error) {
	if len(key) == 0 {
		return "", fmt.Errorf("%w: empty key", ErrBadName)
	}
	return base64.RawURLEncoding.EncodeToString(key), nil
}

// Put stores value under key and waits for the server's acknowledgement.
func (b *KVBench) Put(ctx context.Context, key, value []byte) error {
	k, err := kvKey(key)
	if err != nil {
		return err
	}
	if _, err := b.kv.Put(ctx, k, value); err != nil {
		return fmt.Errorf("bus: put: %w", mapErr(err))
	}
	return nil
}

// Get returns key's value; found is false if the bucket does not hold key.
func (b *KVBench) Get(ctx context.Context, key []byte) (value []byte, found bool, err error) {
	k, err := kvKey(key)
	if err != nil {
		return nil, false, err
	}
	e, err := b.kv.Get(ctx, k)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("bus: get: %w", mapErr(err))
	}
	return e.Value(), true, nil
}

// Close deletes the bucket if OpenKVBench created it, then closes the
// connection. Call it once.
func (b *KVBench) Close(ctx context.Context) error {
	defer b.conn.Close()
	if !b.created {
		return nil
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	if err := b.conn.js.DeleteKeyValue(ctx, b.bucket); err != nil {
		return fmt.Errorf("bus: delete bucket %s: %w", b.bucket, mapErr(err))
	}
	return nil
}
