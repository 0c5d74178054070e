package state

import (
	"net/netip"
	"time"
)

// AppSet is the Marathon view of the cluster: the apps the load balancer may route
// to, with their tasks. It is built whole by a Marathon source (or derived from the
// Mesos view) and never mutated after it is published.
type AppSet struct {
	// Source names where the apps came from, e.g. "http://127.0.0.1:8080".
	Source string
	// FetchedAt is when the source finished reading the apps.
	FetchedAt time.Time
	// Digest identifies the content (everything but Source and FetchedAt): equal
	// digests mean nothing to rebuild.
	Digest uint64
	// Apps are sorted by ID.
	Apps []App
	// AppDigests are AppDigest of each of Apps, in the same order, when the
	// source computed them (Seal does); nil otherwise. Consumers that keep
	// results per app use them to tell the changed apps without hashing
	// every app again.
	AppDigests []uint64
	// LeftOut are the apps and tasks left out for invalid data.
	LeftOut []LeftOut
}

// NetworkMode is how an app's tasks are reached, which decides where their
// addresses and ports come from.
type NetworkMode string

// Network modes, as Marathon 1.5+ names them; older app definitions are mapped
// onto these (docker BRIDGE → container/bridge, ipAddress → container).
const (
	NetworkHost      NetworkMode = "host"
	NetworkBridge    NetworkMode = "container/bridge"
	NetworkContainer NetworkMode = "container" // IP per task
)

// App is a Marathon app as the load balancer needs it.
type App struct {
	// ID is the Marathon app id, "/group/app".
	ID string
	// Labels are the app's labels (HAPROXY_GROUP, HAPROXY_0_VHOST, …).
	Labels map[string]string
	// Network is the app's networking mode.
	Network NetworkMode
	// Ports are the app's ports in definition order (portDefinitions for host
	// networking, portMappings for container networking): index n is the n of
	// HAPROXY_{n}_* labels.
	Ports []AppPort
	// HealthChecks are the app's Marathon health checks, in order.
	HealthChecks []HealthCheck
	// Instances is the number of instances the app asks for.
	Instances int
	// Deployments are the ids of the deployments in progress for the app.
	Deployments []string
	// LastScalingAt is Marathon's versionInfo.lastScalingAt; zero when unknown.
	// Blue/green (HAPROXY_DEPLOYMENT_*) merging uses it to tell the new app from
	// the old one.
	LastScalingAt time.Time
	// Tasks are the app's tasks, sorted by ID.
	Tasks []AppTask
}

// AppPort is one port of an app.
type AppPort struct {
	// ServicePort is the port the load balancer exposes; 0 when Marathon assigned
	// none (then HAPROXY_{n}_PORT or the IP-per-task range decides).
	ServicePort int
	// ContainerPort is the port inside the container (container networking).
	ContainerPort int
	// HostPort is the fixed host port asked for, 0 for "any".
	HostPort int
	Name     string
	Protocol string
	Labels   map[string]string
}

// HealthCheck is a Marathon health check definition.
type HealthCheck struct {
	// Protocol is HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS or MESOS_TCP.
	Protocol string
	Path     string
	// PortIndex selects the app port checked; Port is a fixed port instead (0 when
	// PortIndex applies).
	PortIndex              int
	Port                   int
	IntervalSeconds        int
	TimeoutSeconds         int
	GracePeriodSeconds     int
	MaxConsecutiveFailures int
	IgnoreHTTP1xx          bool
}

// AppTask is one task of a Marathon app.
type AppTask struct {
	ID      string
	AgentID string
	// Host is the agent's hostname or address, as Marathon reports it.
	Host string
	// Ports are the host ports assigned to the task, one per app port.
	Ports []int
	// ServicePorts are the service ports Marathon reports for the task.
	ServicePorts []int
	// IPs are the task's own addresses (container networking).
	IPs   []netip.Addr
	State TaskState
	// Health is one entry per health check result Marathon reports: alive or not.
	Health []bool
	// Ready is the readiness check outcome; nil when the app has no readiness check.
	Ready *bool
	// Draining is true while Marathon (or Mesos maintenance) drains the task.
	Draining  bool
	StartedAt time.Time
	Version   string
}
