// Package dnsserver is discovery's authoritative DNS server for the Mesos domain:
// a drop-in replacement for mesos-dns that gives the same answers for the same
// cluster and configuration, faster, in less memory, and without invalid names.
//
// It is the DNS consumer of the snapshot pipeline, shaped like the load
// balancer's (lbsync.Syncer): it owns record generation (mesos-dns naming), the
// record table, the Updater that keeps the table in step with the snapshots,
// the DNS server and its forwarder, and mesos-dns's /v1 HTTP API. The daemon
// only wires them together.
//
// # Records
//
// Build turns a state.Cluster into an immutable Table holding exactly the
// records mesos-dns generates (see records.go), for the configured domain
// (default "mesos"):
//
//   - task.framework.domain and the canonical task-hash-agent.framework.domain
//     (e.g. nginx-jhy6r-s1.marathon.mesos): A/AAAA of every address of the
//     first of IPSources that has any (never two sources' together);
//   - task.framework.slave.domain and its canonical form: A/AAAA of the agent;
//   - _task._tcp|_udp.framework.slave.domain SRV for each port resource, also
//     directly under the framework when the task has no DiscoveryInfo; with a
//     DiscoveryInfo, _task._proto.framework.domain and
//     _portname._task._proto.framework.domain SRV for each of its ports;
//   - framework.domain A/AAAA and _framework._tcp.framework.domain SRV;
//   - leader, master, masterN and slave A/AAAA; _leader._tcp|_udp,
//     _master._tcp|_udp and _slave._tcp SRV;
//   - SOAMname's A/AAAA (the listener address, or this host's addresses), and the
//     domain's SOA and NS.
//
// Agents and frameworks known by a host name rather than an IP get the
// addresses it resolves to (hosts.go). Only TASK_RUNNING tasks on known agents
// get records. SRV records have priority
// 0 and weight srvRecordDefaultWeight; answers to SRV carry the targets' first A
// and AAAA as additional records.
//
// Task names become one label as mesos-dns makes them (RFC 1123, or RFC 952 with
// enforceRFC952): lowercase; '.', '_' and '-' become '-'; other characters are
// dropped; leading dashes (and under RFC 952 leading digits) are dropped; the
// label is cut to 63 (24) characters. Framework names keep their dots, each part
// being made a label the same way.
//
// # Names DNS cannot carry
//
// mesos-dns emits labels over 63 octets (a long task name plus "-hash-agent", or
// "_" plus a 63-character name); clients cannot ask for those, and mesos-dns
// sends nothing to a question whose answer would hold one. We emit a valid
// name instead:
//
//   - a label over 63 octets keeps its first 57 octets (without trailing
//     dashes), followed by "-" and the first five z-base-32 characters of the
//     SHA-1 of the whole label; e.g. a 63-character task name t gives the
//     canonical label t[:57] + "-" + hash("t-jhy6r-s1");
//   - a sanitised label never ends in a dash: where mesos-dns's refill after the
//     length cut ends in one (a name like "A000…..0." under enforceRFC952),
//     the trailing dashes are dropped.
//
// Both rules are deterministic, so the names stay the same from one state to the
// next, and names that fit are exactly mesos-dns's. A name over 253 octets (a
// long framework name with long task and port names) is not served: no
// client could ask for it.
//
// Legacy DiscoveryInfo names (mesos-dns also generates records under the raw
// DiscoveryInfo name) are kept where a client can ask for them as mesos-dns
// answered them: labels of lowercase letters, digits, "-" and "_".
//
// # Answers
//
// Lookups match names case-insensitively and allocate nothing: records are stored
// compactly and turned into miekg/dns RRs in caller-provided Scratch space, owned
// by the question name as the client wrote it. Names that exist only because
// names below them do (slave.mesos., _tcp.marathon.mesos.) answer NODATA rather
// than mesos-dns's NXDOMAIN, so resolvers that minimise query names still work.
//
// # Serving
//
// Server answers over UDP and TCP on one address (listener:port), authoritative
// (AA) for the domain: NXDOMAIN for a name that does not exist, NOERROR with no
// answer (NODATA) for a name without records of the type asked, both with the
// domain's SOA in the authority section so resolvers cache the negative answer
// for the SOA's minimum TTL. Answers keep the question's case and carry ttl.
// Multi-record answers come in a fixed order (A and AAAA by address, SRV by
// target and port), so a truncated answer is the same subset every time and
// DNS-discovery clients (HAProxy's server-template) see a stable set; SRV
// records never carry port 0. RA is set per recurseon.
//
// EDNS0: a UDP answer never exceeds the client's advertised buffer, capped at
// MaxUDPSize (dnsMaxUDPSize, 1232 by default; 512 octets without EDNS); what
// does not fit is cut at a record boundary with TC set, so
// the client asks again over TCP and gets everything. ANY gets a minimal answer
// (RFC 8482: one record set: A, else AAAA, else SRV, else the SOA), so it is no
// amplifier; an optional per-client response rate limit (dnsRateLimit) bounds
// what any one address can draw.
//
// Names outside the domain go to Forwarder: resolvers in order, each within
// timeout; zoneResolvers by longest matching zone; a truncated upstream answer
// is fetched again over TCP; REFUSED when externalon is false; and at most
// MaxInFlight upstream queries at once (SERVFAIL beyond), so a slow upstream
// cannot exhaust the server or slow the answers for the domain.
//
// No packet, however malformed, crashes or stalls the server: the handler
// answers an unparsable query FORMERR (or drops it when not even the header
// parses), and recovers from a panic (counted) with SERVFAIL.
//
// # Keeping the table current
//
// Tables are immutable. Updater.Run reads the hub's snapshots (latest-wins, so
// a slow build skips intermediate views rather than queueing), builds a new
// table from each new Mesos view (Table.Update reuses what did not change) and
// swaps it in atomically; a query reads whichever table is current and never
// waits for a build, and a snapshot whose Mesos view did not change (a
// Marathon-only change) builds nothing. Every build is logged ("dns table
// built") and measured (discovery_dns_table_build_seconds,
// discovery_dns_records) beside the loop, in updater_metrics.go.
//
// # HTTP
//
// NewHTTPHandler serves mesos-dns's /v1 API (version, config, hosts, services,
// enumerate, axfr) with its JSON shapes, from whatever table is current.
package dnsserver
