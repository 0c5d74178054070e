package fakemaster

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
)

// Rendering of the v0 state document's pieces (what /master/state shows) as the
// v1 operator API shows the same objects: the protobuf JSON mapping, with IDs
// as {"value": …}, label lists as {"labels": […]}, and resources as a list of
// typed Resource objects. The fake keeps one truth — the v0 document — and
// renders both APIs from it, so that a poller and a subscriber see the same
// cluster.

type obj = map[string]any

// v1Task renders a v0 task of the framework fwID as a v1 Task.
func v1Task(t obj, fwID string) obj {
	id := asString(t["id"])
	out := obj{
		"task_id":      obj{"value": id},
		"name":         asString(t["name"]),
		"framework_id": obj{"value": fwID},
		"agent_id":     obj{"value": firstNonEmpty(asString(t["slave_id"]), asString(t["agent_id"]))},
		"resources":    v1Resources(t["resources"]),
	}
	if s := asString(t["state"]); s != "" {
		out["state"] = s
	}
	if e := asString(t["executor_id"]); e != "" {
		out["executor_id"] = obj{"value": e}
	}
	if l := v1Labels(t["labels"]); l != nil {
		out["labels"] = l
	}
	if d, ok := t["discovery"].(obj); ok {
		out["discovery"] = v1Discovery(d)
	}
	var statuses []any
	if ss, ok := t["statuses"].([]any); ok {
		for _, s := range ss {
			if so, ok := s.(obj); ok {
				statuses = append(statuses, v1Status(so, id))
			}
		}
	}
	out["statuses"] = orEmpty(statuses)
	return out
}

// v1Status renders a v0 task status as a v1 TaskStatus.
func v1Status(s obj, taskID string) obj {
	out := obj{"task_id": obj{"value": taskID}}
	for _, k := range []string{"state", "timestamp", "healthy", "source", "reason", "message"} {
		if v, ok := s[k]; ok && v != nil {
			out[k] = v
		}
	}
	if l := v1Labels(s["labels"]); l != nil {
		out["labels"] = l
	}
	if cs, ok := s["container_status"].(obj); ok {
		out["container_status"] = v1ContainerStatus(cs)
	}
	return out
}

// v1ContainerStatus keeps the network infos, turning the Mesos 0.25-era
// "ip_address" into the "ip_addresses" list that replaced it.
func v1ContainerStatus(cs obj) obj {
	out := obj{}
	if id, ok := cs["container_id"]; ok {
		out["container_id"] = id
	}
	var infos []any
	if nis, ok := cs["network_infos"].([]any); ok {
		for _, ni := range nis {
			n, ok := ni.(obj)
			if !ok {
				continue
			}
			o := obj{}
			for k, v := range n {
				if k != "ip_address" && k != "labels" {
					o[k] = v
				}
			}
			if l := v1Labels(n["labels"]); l != nil {
				o["labels"] = l
			}
			if _, listed := n["ip_addresses"]; !listed {
				if ip := asString(n["ip_address"]); ip != "" {
					o["ip_addresses"] = []any{obj{"ip_address": ip}}
				}
			}
			infos = append(infos, o)
		}
	}
	out["network_infos"] = orEmpty(infos)
	return out
}

// v1Labels renders a v0 label list ([{key,value}] or {"labels": […]}); nil for
// none.
func v1Labels(v any) obj {
	var list []any
	switch l := v.(type) {
	case []any:
		list = l
	case obj:
		list, _ = l["labels"].([]any)
	}
	if len(list) == 0 {
		return nil
	}
	return obj{"labels": list}
}

func v1Discovery(d obj) obj {
	out := obj{}
	for k, v := range d {
		switch k {
		case "labels":
			if l := v1Labels(v); l != nil {
				out[k] = l
			}
		case "ports":
			var ports []any
			switch p := v.(type) {
			case []any:
				ports = p
			case obj:
				ports, _ = p["ports"].([]any)
			}
			fixed := make([]any, 0, len(ports))
			for _, p := range ports {
				po, ok := p.(obj)
				if !ok {
					continue
				}
				q := obj{}
				for k, v := range po {
					q[k] = v
				}
				if l := v1Labels(po["labels"]); l != nil {
					q["labels"] = l
				} else {
					delete(q, "labels")
				}
				fixed = append(fixed, q)
			}
			out[k] = obj{"ports": fixed}
		default:
			out[k] = v
		}
	}
	if _, ok := out["visibility"]; !ok {
		out["visibility"] = "FRAMEWORK"
	}
	return out
}

// v1Resources renders a v0 resources object ({"cpus": 1, "ports": "[…]"}) as a
// v1 Resource list.
func v1Resources(v any) []any {
	r, ok := v.(obj)
	out := []any{}
	if !ok {
		return out
	}
	for _, name := range keysSorted(r) {
		switch val := r[name].(type) {
		case json.Number:
			f, _ := val.Float64()
			out = append(out, obj{"name": name, "type": "SCALAR", "scalar": obj{"value": f}, "role": "*"})
		case float64:
			out = append(out, obj{"name": name, "type": "SCALAR", "scalar": obj{"value": val}, "role": "*"})
		case string:
			ranges := parseRanges(val)
			if len(ranges) == 0 {
				continue
			}
			out = append(out, obj{"name": name, "type": "RANGES", "ranges": obj{"range": ranges}, "role": "*"})
		}
	}
	return out
}

// parseRanges parses "[31000-31001, 31005-31005]" into v1 Value.Range objects,
// skipping what does not parse (as the state decoder does).
func parseRanges(s string) []any {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	var out []any
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		lo, hi, found := strings.Cut(item, "-")
		if !found {
			hi = lo
		}
		b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		if err1 != nil || err2 != nil || b > e {
			continue
		}
		out = append(out, obj{"begin": b, "end": e})
	}
	return out
}

// v1Agent renders a v0 agent ("slaves" entry) as a GET_AGENTS agent.
func v1Agent(a obj) obj {
	pid := asString(a["pid"])
	info := obj{
		"hostname":   asString(a["hostname"]),
		"id":         obj{"value": asString(a["id"])},
		"resources":  v1Resources(a["resources"]),
		"attributes": v1Attributes(a["attributes"]),
	}
	if _, port, ok := pidHostPort(pid); ok {
		info["port"] = port
	}
	active := true
	if b, ok := a["active"].(bool); ok {
		active = b
	}
	out := obj{
		"agent_info":      info,
		"active":          active,
		"version":         "1.11.0",
		"total_resources": v1Resources(a["resources"]),
	}
	if pid != "" {
		out["pid"] = pid
	}
	return out
}

func v1Attributes(v any) []any {
	attrs, _ := v.(obj)
	out := []any{}
	for _, name := range keysSorted(attrs) {
		switch val := attrs[name].(type) {
		case string:
			out = append(out, obj{"name": name, "type": "TEXT", "text": obj{"value": val}})
		case json.Number:
			f, _ := val.Float64()
			out = append(out, obj{"name": name, "type": "SCALAR", "scalar": obj{"value": f}})
		case float64:
			out = append(out, obj{"name": name, "type": "SCALAR", "scalar": obj{"value": val}})
		}
	}
	return out
}

// v1Framework renders a v0 framework as a GET_FRAMEWORKS framework (which has
// no pid: the v1 API does not carry it).
func v1Framework(f obj) obj {
	active := true
	if b, ok := f["active"].(bool); ok {
		active = b
	}
	info := obj{
		"user": firstNonEmpty(asString(f["user"]), "root"),
		"name": asString(f["name"]),
		"id":   obj{"value": asString(f["id"])},
	}
	if h := asString(f["hostname"]); h != "" {
		info["hostname"] = h
	}
	return obj{
		"framework_info": info,
		"active":         active,
		"connected":      active,
		"recovered":      false,
	}
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func pidHostPort(pid string) (string, int, bool) {
	at := strings.LastIndexByte(pid, '@')
	if at < 0 {
		return "", 0, false
	}
	h, p, err := net.SplitHostPort(pid[at+1:])
	if err != nil {
		return "", 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, false
	}
	return h, n, true
}
