package marathon

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/discovery-mesos/discovery/state"
)

// appsDecoder fills the wire structs of wire.go from a pullReader, one app at a
// time, and converts each app as soon as it is read: the document is never held
// whole, and neither is its wire form. Its fast path covers what Marathon
// sends; any app it does not cover (a value of an unexpected kind, a key in
// another case or given twice, a null where an object was expected) is decoded
// by encoding/json from the app's own bytes instead, so both ways give the same
// result on every document (FuzzDecodeApps checks it).
type appsDecoder struct {
	r   *pullReader
	in  interner
	set *state.AppSet
	// typeErr is the first value of the wrong type, which fails the document
	// as it does with encoding/json, once the rest is known to be well formed.
	typeErr error
	// The lists of one app's wire struct, which convertMarathonApp copies out
	// of: their room is reused by the next app.
	tasks    []marathonTask
	portDefs []marathonPortDefinition
	checks   []marathonHealthCheck
	deploys  []marathonDeploymentRef
	ready    []marathonReadinessResult
	// Arenas for the many small lists of tasks, so that each is not an
	// allocation of its own: ports end up in the set (never reused), the
	// others only in one app's wire struct (reused by the next app).
	ports  []int
	ips    []marathonIPAddr
	health []marathonHCResult
}

// decodeAppsWith decodes the document r reads into a sealed set.
func decodeAppsWith(r *pullReader, source string, fetchedAt time.Time) (*state.AppSet, error) {
	d := &appsDecoder{r: r, set: &state.AppSet{Source: source, FetchedAt: fetchedAt}}
	if err := d.document(); err != nil {
		return nil, fmt.Errorf("decoding marathon apps: %w", err)
	}
	return d.set.Seal(), nil
}

var (
	docKeys     = []string{"apps"}
	appKeys     = []string{"id", "labels", "instances", "ports", "portDefinitions", "container", "networks", "ipAddress", "healthChecks", "deployments", "readinessCheckResults", "versionInfo", "tasks"}
	portDefKeys = []string{"port", "name", "protocol", "labels"}
	idKeys      = []string{"id"}
	versionKeys = []string{"lastScalingAt", "lastConfigChangeAt"}
	taskKeys    = []string{"id", "appId", "slaveId", "agentId", "host", "ports", "servicePorts", "ipAddresses", "state", "startedAt", "version", "draining", "healthCheckResults"}
	ipAddrKeys  = []string{"ipAddress", "protocol"}
	aliveKeys   = []string{"alive"}
	checkKeys   = []string{"protocol", "path", "portIndex", "port", "intervalSeconds", "timeoutSeconds", "gracePeriodSeconds", "maxConsecutiveFailures", "ignoreHttp1xx"}
	readyKeys   = []string{"name", "taskId", "ready"}
)

// document reads the whole document: an object whose "apps" array is the set.
func (d *appsDecoder) document() error {
	r := d.r
	c, err := r.expectValue()
	if err != nil {
		return err
	}
	var apps bool
	switch c {
	case '{':
		err = r.object(func(key []byte) error {
			if !matchKey(key, docKeys) {
				return r.skip()
			}
			if isNull, err := r.null(); isNull || err != nil {
				apps = false
				d.set.Apps, d.set.LeftOut = nil, nil
				return err
			}
			if c, _ := r.next(); c != '[' {
				d.wrongType("apps", c)
				return r.skip()
			}
			// A second "apps" replaces the first, as with encoding/json.
			apps = true
			d.set.Apps, d.set.LeftOut = []state.App{}, nil
			return r.array(d.app)
		})
	case 'n':
		err = r.literal("null")
	default:
		d.wrongType("the apps document", c)
		err = r.skip()
	}
	if err != nil {
		return err
	}
	if err := r.end(); err != nil {
		return err
	}
	if d.typeErr != nil {
		return d.typeErr
	}
	if !apps {
		return errors.New("document has no \"apps\" array")
	}
	return nil
}

// wrongType notes a value of kind c where what was expected; the first one
// fails the document.
func (d *appsDecoder) wrongType(what string, c byte) {
	if d.typeErr == nil {
		d.typeErr = fmt.Errorf("cannot unmarshal %s into %s", kind(c), what)
	}
}

// matchKey is whether key names the one field of names (encoding/json matches
// keys without regard to case).
func matchKey(key []byte, names []string) bool {
	return len(names) == 1 && strings.EqualFold(string(key), names[0])
}

// fields reads an object whose members named in names are read by fn(i) and
// the others skipped. A member given twice, or named in another case (which
// encoding/json would take), is errSlow.
func (r *pullReader) fields(names []string, fn func(i int) error) error {
	var seen uint64
	return r.object(func(key []byte) error {
		for i, n := range names {
			if string(key) == n {
				if seen&(1<<i) != 0 {
					return errSlow
				}
				seen |= 1 << i
				return fn(i)
			}
		}
		if mayFold(key, names) {
			return errSlow
		}
		return r.skip()
	})
}

// mayFold is whether encoding/json could take key for one of names.
func mayFold(key []byte, names []string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for _, n := range names {
		if len(key) == len(n) && strings.EqualFold(string(key), n) {
			return true
		}
	}
	return false
}

// app reads one element of "apps" and adds the app (or what is left out of
// it) to the set.
func (d *appsDecoder) app() error {
	r := d.r
	if _, err := r.expectValue(); err != nil {
		return err
	}
	r.mark = r.pos
	defer func() { r.mark = -1 }()
	d.ips, d.health = d.ips[:0], d.health[:0]
	depth := r.depth
	var w marathonApp
	err := d.appFast(&w)
	if errors.Is(err, errSlow) {
		r.pos, r.depth = r.mark, depth
		if err := r.skip(); err != nil {
			return err
		}
		w = marathonApp{}
		if err := json.Unmarshal(r.buf[r.mark:r.pos], &w); err != nil {
			if d.typeErr == nil {
				d.typeErr = err
			}
			return nil
		}
	} else if err != nil {
		return err
	}
	app, tasksLeftOut, err := convertMarathonApp(&w)
	d.set.LeftOut = append(d.set.LeftOut, tasksLeftOut...)
	if err != nil {
		d.set.LeftOut = append(d.set.LeftOut, appLeftOut(w.ID, err))
		return nil
	}
	d.set.Apps = append(d.set.Apps, app)
	return nil
}

// appFast reads one app into w; errSlow leaves it to encoding/json.
func (d *appsDecoder) appFast(w *marathonApp) error {
	r, in := d.r, &d.in
	return r.fields(appKeys, func(i int) error {
		var err error
		switch i {
		case 0:
			return r.strInto(&w.ID, in)
		case 1:
			w.Labels, err = r.labels(in)
		case 2:
			return r.intInto(&w.Instances)
		case 3:
			w.Ports, err = r.ints()
		case 4:
			var pds []marathonPortDefinition
			if pds, err = listInto(r, &d.portDefs, d.portDefinition); pds != nil {
				w.PortDefinitions = &pds
			}
		case 5:
			return r.rawInto(&w.Container)
		case 6:
			return r.rawInto(&w.Networks)
		case 7:
			return r.rawInto(&w.IPAddress)
		case 8:
			w.HealthChecks, err = listInto(r, &d.checks, d.healthCheck)
		case 9:
			w.Deployments, err = listInto(r, &d.deploys, func(ref *marathonDeploymentRef) error {
				return r.fields(idKeys, func(int) error { return r.strInto(&ref.ID, nil) })
			})
		case 10:
			w.ReadinessCheckResults, err = listInto(r, &d.ready, d.readiness)
		case 11:
			w.VersionInfo, err = d.versionInfo()
		case 12:
			w.Tasks, err = listInto(r, &d.tasks, d.task)
		}
		return err
	})
}

// list reads an array of values that elem reads; null is nil, [] an empty
// list, as with encoding/json.
func list[T any](r *pullReader, elem func(*T) error) ([]T, error) {
	var room []T
	return listInto(r, &room, elem)
}

// listAt is list with the elements appended to *arena, the list capped at
// its end so that later lists never write over it. A list that outgrows
// the arena moves it (the lists before keep the old one).
func listAt[T any](r *pullReader, arena *[]T, elem func(*T) error) ([]T, error) {
	if isNull, err := r.null(); isNull || err != nil {
		return nil, err
	}
	if cap(*arena)-len(*arena) < 8 {
		*arena = make([]T, 0, 512)
	}
	start := len(*arena)
	err := r.array(func() error {
		var zero T
		*arena = append(*arena, zero)
		return elem(&(*arena)[len(*arena)-1])
	})
	a := *arena
	return a[start:len(a):len(a)], err
}

// listInto is list reusing *room, which it leaves as large as the list was:
// for the lists that are copied out of before the next is read.
func listInto[T any](r *pullReader, room *[]T, elem func(*T) error) ([]T, error) {
	if isNull, err := r.null(); isNull || err != nil {
		return nil, err
	}
	out := (*room)[:0]
	if out == nil {
		out = make([]T, 0, 1)
	}
	err := r.array(func() error {
		var zero T
		out = append(out, zero)
		return elem(&out[len(out)-1])
	})
	*room = out[:0]
	return out, err
}

// portDefinition reads one of portDefinitions.
func (d *appsDecoder) portDefinition(pd *marathonPortDefinition) error {
	r, in := d.r, &d.in
	return r.fields(portDefKeys, func(i int) error {
		var err error
		switch i {
		case 0:
			return r.intInto(&pd.Port)
		case 1:
			return r.strInto(&pd.Name, in)
		case 2:
			return r.strInto(&pd.Protocol, in)
		case 3:
			pd.Labels, err = r.labels(in)
		}
		return err
	})
}

// versionInfo reads versionInfo; null is nil.
func (d *appsDecoder) versionInfo() (*marathonVersionInfo, error) {
	r, in := d.r, &d.in
	if isNull, err := r.null(); isNull || err != nil {
		return nil, err
	}
	var v marathonVersionInfo
	err := r.fields(versionKeys, func(i int) error {
		if i == 0 {
			return r.strInto(&v.LastScalingAt, in)
		}
		return r.strInto(&v.LastConfigChangeAt, in)
	})
	return &v, err
}

// task reads one of the app's tasks.
func (d *appsDecoder) task(t *marathonTask) error {
	r, in := d.r, &d.in
	return r.fields(taskKeys, func(i int) error {
		var err error
		switch i {
		case 0:
			return r.strInto(&t.ID, nil)
		case 1:
			return r.strInto(&t.AppID, in)
		case 2:
			return r.strInto(&t.SlaveID, in)
		case 3:
			return r.strInto(&t.AgentID, in)
		case 4:
			return r.strInto(&t.Host, in)
		case 5:
			t.Ports, err = listAt(r, &d.ports, r.intInto)
		case 6:
			t.ServicePorts, err = listAt(r, &d.ports, r.intInto)
		case 7:
			t.IPAddresses, err = listAt(r, &d.ips, func(a *marathonIPAddr) error {
				return r.fields(ipAddrKeys, func(i int) error {
					if i == 0 {
						return r.strInto(&a.IPAddress, in)
					}
					return r.strInto(&a.Protocol, in)
				})
			})
		case 8:
			return r.strInto(&t.State, in)
		case 9:
			return r.strInto(&t.StartedAt, in)
		case 10:
			return r.strInto(&t.Version, in)
		case 11:
			return r.boolInto(&t.Draining)
		case 12:
			var hs []marathonHCResult
			hs, err = listAt(r, &d.health, func(h *marathonHCResult) error {
				return r.fields(aliveKeys, func(int) error { return r.boolInto(&h.Alive) })
			})
			if hs != nil {
				t.HealthChecks = &hs
			}
		}
		return err
	})
}

// healthCheck reads one of the app's healthChecks.
func (d *appsDecoder) healthCheck(h *marathonHealthCheck) error {
	r, in := d.r, &d.in
	ints := [...]*int{2: &h.PortIndex, &h.Port, &h.IntervalSeconds, &h.TimeoutSeconds, &h.GracePeriodSeconds, &h.MaxConsecutiveFailures}
	return r.fields(checkKeys, func(i int) error {
		switch i {
		case 0:
			return r.strInto(&h.Protocol, in)
		case 1:
			return r.strInto(&h.Path, in)
		case 8:
			return r.boolInto(&h.IgnoreHTTP1xx)
		}
		return r.intInto(ints[i])
	})
}

// readiness reads one of readinessCheckResults.
func (d *appsDecoder) readiness(res *marathonReadinessResult) error {
	r, in := d.r, &d.in
	return r.fields(readyKeys, func(i int) error {
		switch i {
		case 0:
			return r.strInto(&res.Name, in)
		case 1:
			return r.strInto(&res.TaskID, nil)
		}
		return r.boolInto(&res.Ready)
	})
}
