// Package vips computes the named and addressed virtual IPs (VIPs) of a
// snapshot: the VIP_{n} port labels DC/OS users put on Marathon apps and Mesos
// tasks, each a stable address and port in front of the tasks that carry it.
//
// Clients that resolve a name once (nginx upstreams, JVM caches, connection
// pools) break when a task's address changes. A VIP's address is derived from
// its name alone, so it is the same on every host running discovery and across
// restarts, while the tasks behind it come and go. Both consumers use the
// package: the load balancer listens on each VIP and balances to its backends,
// and the DNS server answers the VIP names once those listeners are up. Both
// work from one snapshot; everything here is a pure function of it.
//
// Labels come from app authors and are untrusted: a bad VIP label costs only
// its own port, reported in Set.LeftOut; names are reduced to DNS labels
// before they are used anywhere.
package vips
