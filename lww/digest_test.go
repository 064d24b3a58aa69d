package lww

import "testing"

func TestDigest(t *testing.T) {
	sum := func(recs ...[3]string) string {
		d := NewDigest()
		for i, r := range recs {
			d.Add([]byte(r[0]), []byte(r[1]), int64(len(r[2])+i))
		}
		if d.Count() != len(recs) {
			t.Fatalf("Count = %d, want %d", d.Count(), len(recs))
		}
		return d.Sum()
	}
	if got := sum(); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty digest %s is not the SHA-256 of nothing", got)
	}
	base := sum([3]string{"a", "1", ""}, [3]string{"b", "2", ""})
	if base != sum([3]string{"a", "1", ""}, [3]string{"b", "2", ""}) {
		t.Fatal("not deterministic")
	}
	for name, other := range map[string]string{
		"value":               sum([3]string{"a", "1", ""}, [3]string{"b", "3", ""}),
		"event time":          sum([3]string{"a", "1", "x"}, [3]string{"b", "2", ""}),
		"key and value split": sum([3]string{"a1", "", ""}, [3]string{"b", "2", ""}),
		"a record less":       sum([3]string{"a", "1", ""}),
	} {
		if other == base {
			t.Errorf("a different %s gives the same digest", name)
		}
	}
}
