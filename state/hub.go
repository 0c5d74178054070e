package state

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Hub is the daemon's Sink: it keeps the latest view from each source, drops views
// that change nothing, coalesces bursts, and hands the latest Snapshot to every
// subscriber without ever blocking a source. A slow subscriber skips intermediate
// snapshots; it always gets the newest one.
type Hub struct {
	quiet, maxDelay time.Duration
	log             *slog.Logger

	kick chan struct{}

	mu      sync.Mutex
	cluster *Cluster
	apps    *AppSet
	pending bool
	subs    []chan *Snapshot
	sources map[string]*SourceStatus
	seq     uint64
	current atomic.Pointer[Snapshot]
}

// SourceStatus is what the hub knows about one source, for staleness reporting.
type SourceStatus struct {
	Name string
	// LastGood is when the source last delivered a good view (changed or not).
	LastGood time.Time
	// LastError is the latest failure, cleared by the next good view.
	LastError   error
	LastErrorAt time.Time
	// Failures counts failed fetches since the last good one.
	Failures int
	// Note says how the source follows its origin when that is not the
	// usual way; set by the source (Noter), kept until it clears it.
	Note string
	// LeftOut are what the source's last good view left out for invalid
	// data.
	LeftOut []LeftOut
}

// NewHub returns a hub that waits for quiet (no new view for that long) before
// delivering, but never delays a view by more than maxDelay (a zero maxDelay means
// quiet). A zero quiet delivers at once.
func NewHub(quiet, maxDelay time.Duration, log *slog.Logger) *Hub {
	if maxDelay <= 0 {
		maxDelay = quiet
	}
	quiet = min(quiet, maxDelay)
	return &Hub{
		quiet:    quiet,
		maxDelay: maxDelay,
		log:      log,
		kick:     make(chan struct{}, 1),
		sources:  map[string]*SourceStatus{},
	}
}

// PublishCluster implements Sink.
func (h *Hub) PublishCluster(c *Cluster) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.markGood(c.Source, c.FetchedAt)
	h.noteLeftOut(c.Source, c.LeftOut)
	if h.cluster != nil && h.cluster.Digest == c.Digest {
		return
	}
	h.cluster = c
	h.markPending()
}

// PublishApps implements Sink.
func (h *Hub) PublishApps(a *AppSet) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.markGood(a.Source, a.FetchedAt)
	h.noteLeftOut(a.Source, a.LeftOut)
	if h.apps != nil && h.apps.Digest == a.Digest {
		return
	}
	h.apps = a
	h.markPending()
}

// FetchFailed implements Sink.
func (h *Hub) FetchFailed(source string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.status(source)
	s.LastError = err
	s.LastErrorAt = time.Now()
	s.Failures++
}

// SourceNote implements Noter.
func (h *Hub) SourceNote(source, note string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status(source).Note = note
}

func (h *Hub) status(source string) *SourceStatus {
	s, ok := h.sources[source]
	if !ok {
		s = &SourceStatus{Name: source}
		h.sources[source] = s
	}
	return s
}

func (h *Hub) markGood(source string, at time.Time) {
	s := h.status(source)
	s.LastGood = at
	s.LastError = nil
	s.Failures = 0
}

// noteLeftOut records what a source's view left out, logging each record
// when it is first left out (at most maxLeftOutLogs per view, then how many
// more) and when it is back: the status page and the metric show the current
// list, the log keeps the history.
func (h *Hub) noteLeftOut(source string, list []LeftOut) {
	s := h.status(source)
	old := s.LeftOut
	s.LeftOut = list
	if len(list) == 0 && len(old) == 0 {
		return
	}
	was := make(map[LeftOut]bool, len(old))
	for _, lo := range old {
		was[lo] = true
	}
	is := make(map[[2]string]bool, len(list))
	logged := 0
	for _, lo := range list {
		is[[2]string{lo.ID, lo.App}] = true
		if was[lo] {
			continue
		}
		if logged++; logged <= maxLeftOutLogs {
			h.log.Warn("left out of the view: invalid data", "source", source, "id", lo.ID, "reason", lo.Reason)
		}
	}
	if logged > maxLeftOutLogs {
		h.log.Warn("left out of the view: more records with invalid data", "source", source, "more", logged-maxLeftOutLogs)
	}
	back := 0
	for _, lo := range old {
		if !is[[2]string{lo.ID, lo.App}] {
			back++
		}
	}
	if back > 0 {
		h.log.Info("records no longer left out", "source", source, "count", back, "left_out", len(list))
	}
}

// maxLeftOutLogs bounds the log lines one view's new left-out records cost.
const maxLeftOutLogs = 10

func (h *Hub) markPending() {
	h.pending = true
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Subscribe returns a channel that receives the latest snapshot after every
// change (and the current one at once, if there is one). The channel holds one
// snapshot: an unread one is replaced by a newer one.
func (h *Hub) Subscribe() <-chan *Snapshot {
	ch := make(chan *Snapshot, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.current.Load(); s != nil {
		ch <- s
	}
	h.subs = append(h.subs, ch)
	return ch
}

// Current returns the latest delivered snapshot, or nil before the first one.
func (h *Hub) Current() *Snapshot { return h.current.Load() }

// Sources returns the status of every source that has reported, sorted by name.
func (h *Hub) Sources() []SourceStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]SourceStatus, 0, len(h.sources))
	for _, s := range h.sources {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Run delivers snapshots until ctx is done.
func (h *Hub) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		if !h.settle(ctx) {
			return
		}
		h.deliver()
	}
}

// settle waits until no new view has arrived for the quiet period, or maxDelay has
// passed since the first one. It reports false when ctx ended.
func (h *Hub) settle(ctx context.Context) bool {
	if h.quiet <= 0 {
		return true
	}
	deadline := time.NewTimer(h.maxDelay)
	defer deadline.Stop()
	quiet := time.NewTimer(h.quiet)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return true
		case <-quiet.C:
			return true
		case <-h.kick:
			quiet.Reset(h.quiet)
		}
	}
}

func (h *Hub) deliver() {
	h.mu.Lock()
	if !h.pending {
		h.mu.Unlock()
		return
	}
	h.pending = false
	h.seq++
	s := &Snapshot{Cluster: h.cluster, Apps: h.apps, Seq: h.seq}
	h.current.Store(s)
	subs := h.subs
	h.mu.Unlock()
	for _, ch := range subs {
		// Only the hub sends, so after dropping a stale unread snapshot there is room.
		select {
		case ch <- s:
		default:
			select {
			case <-ch:
			default:
			}
			ch <- s
		}
	}
	h.log.Debug("snapshot delivered", "seq", s.Seq, "subscribers", len(subs))
}
