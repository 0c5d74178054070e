package state

import (
	"bytes"
	"testing"
)

func BenchmarkZZCount(b *testing.B) {
	data := genMesosState(100_000)
	for b.Loop() {
		if n := bytes.Count(data, []byte(`"statuses"`)); n != 100_000 {
			b.Fatal(n)
		}
	}
}
