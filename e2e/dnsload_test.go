package e2e

import (
	"context"
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// packQuery returns a wire-format query for name/qtype (ID 0, RD set).
func packQuery(name string, qtype uint16) []byte {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.Id = 0
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

// loadResult counts a load run's queries and answers.
type loadResult struct {
	sent, answered, ok atomic.Int64 // ok: NOERROR with an answer
}

// replyOK reports whether a wire reply is a NOERROR answer with records.
func replyOK(b []byte) bool {
	return len(b) >= 12 && b[2]&0x80 != 0 && b[3]&0x0f == 0 && binary.BigEndian.Uint16(b[6:8]) > 0
}

// closedLoop runs workers that each keep one query outstanding (1 s
// timeout) until ctx ends: the rate the server sustains.
func closedLoop(ctx context.Context, addr string, workers int, queries [][]byte, res *loadResult) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("udp", addr)
			if err != nil {
				return
			}
			defer conn.Close()
			buf := make([]byte, 4096)
			q := slices.Clone(queries[w%len(queries)])
			for id := uint16(w); ctx.Err() == nil; id++ {
				binary.BigEndian.PutUint16(q, id)
				_ = conn.SetDeadline(time.Now().Add(time.Second))
				if _, err := conn.Write(q); err != nil {
					continue
				}
				res.sent.Add(1)
				n, err := conn.Read(buf)
				if err != nil {
					continue
				}
				res.answered.Add(1)
				if replyOK(buf[:n]) {
					res.ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
}

// openLoop sends rate queries per second, whatever comes back, over conns
// sockets, until ctx ends; replies are counted as they come.
func openLoop(ctx context.Context, addr string, rate, conns int, queries [][]byte, res *loadResult) {
	var wg sync.WaitGroup
	per := float64(rate) / float64(conns)
	for c := range conns {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			continue
		}
		wg.Add(2)
		go func() { // receiver
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				n, err := conn.Read(buf)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					continue
				}
				res.answered.Add(1)
				if replyOK(buf[:n]) {
					res.ok.Add(1)
				}
			}
		}()
		go func() { // sender, paced every millisecond
			defer wg.Done()
			defer conn.Close()
			q := slices.Clone(queries[c%len(queries)])
			start := time.Now()
			sent := 0
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for id := uint16(c << 12); ; {
				select {
				case <-ctx.Done():
					// Let the receiver drain what is in flight.
					time.Sleep(300 * time.Millisecond)
					return
				case <-tick.C:
				}
				due := int(per * time.Since(start).Seconds())
				for ; sent < due; sent++ {
					id++
					binary.BigEndian.PutUint16(q, id)
					if _, err := conn.Write(q); err == nil {
						res.sent.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// probe asks for name every interval (1 s timeout) until ctx ends and
// records each answer's latency and the longest time without an answer.
type probe struct {
	wait      chan struct{}
	mu        sync.Mutex
	latencies []time.Duration
	failed    int
	maxGap    time.Duration
}

func runProbe(ctx context.Context, addr, name string, interval time.Duration) *probe {
	p := &probe{}
	q := packQuery(name, dns.TypeA)
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := net.Dial("udp", addr)
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, 4096)
		last := time.Now()
		for id := uint16(1); ctx.Err() == nil; id++ {
			binary.BigEndian.PutUint16(q, id)
			start := time.Now()
			_ = conn.SetDeadline(start.Add(time.Second))
			ok := false
			if _, err := conn.Write(q); err == nil {
				for {
					n, err := conn.Read(buf)
					if err != nil {
						break
					}
					if n >= 2 && binary.BigEndian.Uint16(buf) == id {
						ok = replyOK(buf[:n])
						break
					}
				}
			}
			now := time.Now()
			p.mu.Lock()
			if ok {
				p.latencies = append(p.latencies, now.Sub(start))
				p.maxGap = max(p.maxGap, now.Sub(last))
				last = now
			} else {
				p.failed++
			}
			p.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
		p.mu.Lock()
		p.maxGap = max(p.maxGap, time.Since(last))
		p.mu.Unlock()
	}()
	p.wait = done
	return p
}

// quantile of the answered probes' latencies (q in [0,1]).
func (p *probe) quantile(q float64) time.Duration {
	<-p.wait
	if len(p.latencies) == 0 {
		return 0
	}
	l := slices.Clone(p.latencies)
	slices.Sort(l)
	return l[min(len(l)-1, int(q*float64(len(l))))]
}
