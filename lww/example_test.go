package lww_test

import (
	"fmt"
	"time"

	"github.com/vasto-kv/vasto/lww"
)

func ExampleMerge() {
	put := lww.Record{
		Version: lww.Version{Time: 1_000, DC: "eu-1", Node: "s1"},
		Kind:    lww.KindValue,
		Value:   []byte("blue"),
	}
	// A concurrent write with the same event time from another DC: the DC
	// name breaks the tie, the same way on every replica.
	other := lww.Record{
		Version: lww.Version{Time: 1_000, DC: "us-1", Node: "s9"},
		Kind:    lww.KindValue,
		Value:   []byte("green"),
	}
	del := lww.Record{
		Version: lww.Version{Time: 2_000, DC: "eu-1", Node: "s2"},
		Kind:    lww.KindTombstone,
	}

	w := lww.Merge(put, other)
	fmt.Printf("%s %s\n", w.Version, w.Value)
	fmt.Println(lww.Merge(other, put).Version == w.Version)

	w = lww.Merge(del, w)
	fmt.Println(w.Version, w.Kind, w.Live(3_000))

	// A late, older write does not resurrect the key.
	fmt.Println(lww.Wins(put, w))
	// Output:
	// 1000@us-1/s9 green
	// true
	// 2000@eu-1/s2 tombstone false
	// false
}

func ExampleHLC() {
	clock := lww.NewManualClock(1_000)
	h := lww.NewHLC(clock)

	fmt.Println(h.Now()) // follows the physical clock
	fmt.Println(h.Now()) // clock frozen: still strictly increasing

	clock.Set(500)       // the physical clock steps back
	fmt.Println(h.Now()) // never goes backwards

	h.Observe(5_000)     // a write from elsewhere with a later event time
	fmt.Println(h.Now()) // our next write orders after it

	clock.Advance(10 * time.Microsecond)
	fmt.Println(h.Now()) // the physical clock is ahead again
	// Output:
	// 1000
	// 1001
	// 1002
	// 5001
	// 10500
}

func ExampleExpiryFor() {
	g := lww.DefaultGuard()
	now := int64(1_700_000_000_000_000_000)
	event := now + int64(2*time.Second) // a client clock slightly ahead

	if err := g.CheckEventTime(event, now); err != nil {
		fmt.Println(err)
		return
	}
	exp, err := lww.ExpiryFor(event, time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := lww.Record{Version: lww.Version{Time: event, DC: "eu-1", Node: "s1"}, Kind: lww.KindValue, Value: []byte("v"), ExpiresAt: exp}
	fmt.Println(r.Live(event+int64(59*time.Second)), r.Live(exp))

	_, err = lww.ExpiryFor(event, 0)
	fmt.Println(err)
	// Output:
	// true false
	// lww: ttl must be positive: ttl 0s
}
