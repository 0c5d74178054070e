#!/usr/bin/env python3
"""Write a dnsperf query file for a Mesos state document (genstate.py output).

usage: querymix.py STATE.json [--queries N] [--seed S] [--domain mesos] > queries.txt
The mix of the DNS benchmark: 60% A for task names (task.framework.domain), 30% SRV
(_task._tcp.framework.domain), 10% names that do not exist (NXDOMAIN). Task and
framework names in genstate.py output are already valid DNS labels.
"""
import argparse, json, random

p = argparse.ArgumentParser()
p.add_argument("state")
p.add_argument("--queries", type=int, default=100000)
p.add_argument("--seed", type=int, default=7)
p.add_argument("--domain", default="mesos")
a = p.parse_args()
r = random.Random(a.seed)
st = json.load(open(a.state))
names = sorted({(t["name"], fw["name"]) for fw in st["frameworks"] for t in fw.get("tasks", [])
                if t.get("state") == "TASK_RUNNING"})
if not names:
    raise SystemExit("no running tasks in " + a.state)
out = []
for i in range(a.queries):
    task, fw = names[r.randrange(len(names))]
    k = i % 10
    if k < 6:
        out.append(f"{task}.{fw}.{a.domain} A")
    elif k < 9:
        out.append(f"_{task}._tcp.{fw}.{a.domain} SRV")
    else:
        out.append(f"nope-{i}.{fw}.{a.domain} A")
r.shuffle(out)
print("\n".join(out))
