package mesos

import (
	"math/rand/v2"
	"strconv"
)

// genMesosState builds a synthetic Mesos 1.x master state with the given number of
// tasks, shaped like ../shared/tools/genstate.py (50 agents, 3 frameworks, apps of
// four tasks, half of marathon's apps with HAPROXY labels, every task with a
// TASK_RUNNING status carrying a network_infos address and a DiscoveryInfo port).
// Benchmarks build their input with it so they need nothing outside the package.
func genMesosState(tasks int) []byte { return genMesosStateShaped(tasks, max(1, tasks/4), 50) }

// genMesosStateShaped is genMesosState with the number of apps (tasks are
// dealt to them in turn) and agents given: 1,000 apps of 100 tasks on 500
// agents is the 100,000-task cluster of bench/freshness.
func genMesosStateShaped(tasks, apps, agents int) []byte {
	const frameworks = 3
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 0, 700*tasks+64<<10)

	str := func(s string) { b = strconv.AppendQuote(b, s) }
	num := func(n int) { b = strconv.AppendInt(b, int64(n), 10) }
	agentID := func(i int) string {
		return "a1b2c3d4-0000-4000-8000-" + zeroPad(i, 12) + "-S" + strconv.Itoa(i)
	}
	agentIP := func(i int) string {
		return "127.1." + strconv.Itoa(i/250) + "." + strconv.Itoa(1+i%250)
	}
	fwID := func(f int) string {
		if f == 0 {
			return "fw-0000-marathon"
		}
		return "fw-" + zeroPad(f, 4) + "-extra"
	}

	b = append(b, `{"version": "1.11.0", "id": "master-id-1", "pid": "master@127.0.0.1:15050", "hostname": "127.0.0.1", "leader": "master@127.0.0.1:15050", "leader_info": {"id": "master-id-1", "pid": "master@127.0.0.1:15050", "port": 15050, "hostname": "127.0.0.1", "address": {"ip": "127.0.0.1", "port": 15050, "hostname": "127.0.0.1"}}, "activated_slaves": `...)
	num(agents)
	b = append(b, `, "slaves": [`...)
	for i := range agents {
		if i > 0 {
			b = append(b, ", "...)
		}
		ip := agentIP(i)
		b = append(b, `{"id": `...)
		str(agentID(i))
		b = append(b, `, "hostname": `...)
		str(ip)
		b = append(b, `, "pid": `...)
		str("slave(1)@" + ip + ":5051")
		b = append(b, `, "active": true, "resources": {"cpus": 32, "mem": 128000, "disk": 1000000, "ports": "[31000-32000]"}, "attributes": {"rack": `...)
		str("r" + strconv.Itoa(i%8))
		b = append(b, `}}`...)
	}
	b = append(b, `], "frameworks": [`...)

	// Assign tasks to frameworks first, as genstate.py does, then write them out
	// framework by framework.
	type task struct{ t, app, agent, port int }
	byFw := make([][]task, frameworks)
	for t := range tasks {
		app := t % apps
		fw := 0
		if app%4 == 0 {
			fw = app % frameworks
		}
		byFw[fw] = append(byFw[fw], task{t: t, app: app, agent: rng.IntN(agents), port: 31000 + rng.IntN(1000)})
	}
	for f := range frameworks {
		if f > 0 {
			b = append(b, ", "...)
		}
		name, host := "marathon", "127.3.0.1"
		if f > 0 {
			name, host = "framework-"+strconv.Itoa(f), "127.3.0."+strconv.Itoa(f+1)
		}
		b = append(b, `{"id": `...)
		str(fwID(f))
		b = append(b, `, "name": `...)
		str(name)
		b = append(b, `, "pid": `...)
		str("scheduler-" + strconv.Itoa(max(f, 1)) + "@" + host + ":15101")
		b = append(b, `, "hostname": `...)
		str(host)
		b = append(b, `, "active": true, "tasks": [`...)
		for k, tk := range byFw[f] {
			if k > 0 {
				b = append(b, ", "...)
			}
			app := "app-" + strconv.Itoa(tk.app)
			port := strconv.Itoa(tk.port)
			b = append(b, `{"id": `...)
			str(app + "." + strconv.FormatUint(rng.Uint64(), 16) + "-" + strconv.Itoa(tk.t))
			b = append(b, `, "name": `...)
			str(app)
			b = append(b, `, "framework_id": `...)
			str(fwID(f))
			b = append(b, `, "executor_id": "", "slave_id": `...)
			str(agentID(tk.agent))
			b = append(b, `, "state": "TASK_RUNNING", "resources": {"cpus": 0.1, "mem": 64, "disk": 0, "ports": "[`...)
			b = append(b, port+"-"+port...)
			b = append(b, `]"}, "labels": [`...)
			if f == 0 && tk.app < apps/2 {
				group := "internal"
				if tk.app%3 == 0 {
					group = "external"
				}
				b = append(b, `{"key": "HAPROXY_GROUP", "value": `...)
				str(group)
				b = append(b, `}, {"key": "HAPROXY_0_PORT", "value": `...)
				str(strconv.Itoa(10000 + tk.app%50000))
				b = append(b, '}')
				if tk.app%2 == 0 {
					b = append(b, `, {"key": "HAPROXY_0_VHOST", "value": `...)
					str(app + ".example.com")
					b = append(b, '}')
				}
			}
			b = append(b, `], "statuses": [{"state": "TASK_RUNNING", "timestamp": `...)
			num(1700000000 + tk.t)
			b = append(b, `.0, "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "127.2.`...)
			b = append(b, strconv.Itoa((tk.t/250)%250)+"."+strconv.Itoa(1+tk.t%250)...)
			b = append(b, `"}]}]}}], "discovery": {"visibility": "FRAMEWORK", "name": `...)
			str(app)
			b = append(b, `, "ports": {"ports": [{"number": `...)
			b = append(b, port...)
			b = append(b, `, "name": "http", "protocol": "tcp"}]}}}`...)
		}
		b = append(b, `]}`...)
	}
	b = append(b, `], "completed_frameworks": []}`...)
	return b
}

// zeroPad formats n in decimal with leading zeros to width w.
func zeroPad(n, w int) string {
	s := strconv.Itoa(n)
	for len(s) < w {
		s = "0" + s
	}
	return s
}
