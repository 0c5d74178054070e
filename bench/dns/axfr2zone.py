#!/usr/bin/env python3
"""Turn discovery's /v1/axfr (JSON) into a zone file for Knot DNS and NSD.

usage: axfr2zone.py AXFR.json [--weight 1] [--soa "60 600 86400 60"] > mesos.zone
The SOA's refresh, retry, expire and minimum are not in /v1/axfr: --soa gives
them (discovery's defaults unless the daemon was configured otherwise), and
--weight the SRV weight (srvRecordDefaultWeight). Records come out sorted.
"""
import argparse, json

p = argparse.ArgumentParser()
p.add_argument("axfr")
p.add_argument("--weight", type=int, default=1)
p.add_argument("--soa", default="60 600 86400 60")
a = p.parse_args()
z = json.load(open(a.axfr))
origin = z["Domain"].strip(".") + "."
ttl = z["TTL"]
recs = z["Records"]
out = [f"$ORIGIN {origin}", f"$TTL {ttl}",
       f"@ IN SOA {z['Mname']} {z['Rname']} {z['Serial']} {a.soa}",
       f"@ IN NS {z['Mname']}"]
for name in sorted(recs.get("As") or {}):
    out += [f"{name} IN A {ip}" for ip in sorted(recs["As"][name])]
for name in sorted(recs.get("AAAAs") or {}):
    out += [f"{name} IN AAAA {ip}" for ip in sorted(recs["AAAAs"][name])]
for name in sorted(recs.get("SRVs") or {}):
    for hp in sorted(recs["SRVs"][name]):
        host, port = hp.rsplit(":", 1)
        out.append(f"{name} IN SRV 0 {a.weight} {port} {host}")
print("\n".join(out))
