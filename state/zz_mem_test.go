package state

import (
	"os"
	"runtime/pprof"
	"runtime"
	"testing"
)

func TestZZMem(t *testing.T) {
	data := genMesosState(100_000)
	var m0, m1, mPeak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	c, err := DecodeMesosState(data, FetchMeta{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&mPeak)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t.Logf("doc %d MB; retained by cluster: %.1f MB; total alloc during decode %.1f MB; heap sys %.1f MB",
		len(data)>>20, float64(m1.HeapAlloc-m0.HeapAlloc)/(1<<20), float64(mPeak.TotalAlloc-m0.TotalAlloc)/(1<<20), float64(mPeak.HeapSys)/(1<<20))
	runtime.KeepAlive(c)
	runtime.KeepAlive(data)
}

func TestZZMemProfile(t *testing.T) {
	runtime.MemProfileRate = 1024
	data := genMesosState(100_000)
	c, err := DecodeMesosState(data, FetchMeta{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	f, _ := os.Create("/tmp/heap.prof")
	pprof.Lookup("heap").WriteTo(f, 0)
	f.Close()
	runtime.KeepAlive(c)
}

func TestZZMemSecond(t *testing.T) {
	data := genMesosState(100_000)
	if _, err := DecodeMesosState(data, FetchMeta{}); err != nil {
		t.Fatal(err)
	}
	var m0, m1, mPeak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	c, err := DecodeMesosState(data, FetchMeta{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&mPeak)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t.Logf("second decode: retained by cluster: %.1f MB; total alloc during decode %.1f MB",
		float64(m1.HeapAlloc-m0.HeapAlloc)/(1<<20), float64(mPeak.TotalAlloc-m0.TotalAlloc)/(1<<20))
	runtime.KeepAlive(c)
}
