package state

import "testing"

func BenchmarkZZSkip(b *testing.B) {
	data := genMesosState(100_000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := jsonReader{data: data}
		if err := r.skip(); err != nil {
			b.Fatal(err)
		}
	}
}
