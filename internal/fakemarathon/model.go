package fakemarathon

import "encoding/json"

// App is a Marathon app definition in Marathon's own JSON shape (the fields
// discovery and marathon-lb read, plus the usual resource fields). Fields that
// Marathon serialises as null when unset are pointers. The embedded parts of a
// /v2/apps answer (tasks, counts, deployments, readiness results) are computed by
// the server; Tasks here is the app's task list, served only when embedded.
type App struct {
	ID              string            `json:"id"`
	Cmd             *string           `json:"cmd"`
	Instances       int               `json:"instances"`
	Cpus            float64           `json:"cpus"`
	Mem             float64           `json:"mem"`
	Disk            float64           `json:"disk"`
	Labels          map[string]string `json:"labels"`
	PortDefinitions []PortDefinition  `json:"portDefinitions,omitempty"`
	// Ports is the pre-1.0 list of service ports.
	Ports           []int            `json:"ports,omitempty"`
	RequirePorts    bool             `json:"requirePorts"`
	Container       *Container       `json:"container"`
	Networks        []Network        `json:"networks,omitempty"`
	IPAddress       *IPAddress       `json:"ipAddress,omitempty"`
	HealthChecks    []HealthCheck    `json:"healthChecks"`
	ReadinessChecks []ReadinessCheck `json:"readinessChecks,omitempty"`
	Version         string           `json:"version"`
	VersionInfo     VersionInfo      `json:"versionInfo"`
	Tasks           []Task           `json:"tasks,omitempty"`
}

// PortDefinition is one host-networking port of an app.
type PortDefinition struct {
	Port     int               `json:"port"`
	Name     string            `json:"name,omitempty"`
	Protocol string            `json:"protocol"`
	Labels   map[string]string `json:"labels"`
}

// Container is an app's container; PortMappings is the Marathon 1.5+ location,
// Docker.PortMappings the older one.
type Container struct {
	Type         string        `json:"type"`
	Docker       *Docker       `json:"docker,omitempty"`
	Volumes      []any         `json:"volumes"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
}

// Docker is a Docker container's settings; Network is the pre-1.5 mode (HOST,
// BRIDGE, USER).
type Docker struct {
	Image          string        `json:"image"`
	Network        string        `json:"network,omitempty"`
	PortMappings   []PortMapping `json:"portMappings,omitempty"`
	Privileged     bool          `json:"privileged"`
	Parameters     []any         `json:"parameters"`
	ForcePullImage bool          `json:"forcePullImage"`
}

// PortMapping is one bridge or container networking port.
type PortMapping struct {
	ContainerPort int               `json:"containerPort"`
	HostPort      int               `json:"hostPort"`
	ServicePort   int               `json:"servicePort"`
	Name          string            `json:"name,omitempty"`
	Protocol      string            `json:"protocol"`
	Labels        map[string]string `json:"labels,omitempty"`
}

// Network is one entry of a Marathon 1.5+ app's networks.
type Network struct {
	Mode string `json:"mode"`
	Name string `json:"name,omitempty"`
}

// IPAddress is the legacy (pre-1.5) IP-per-task definition.
type IPAddress struct {
	Groups      []string          `json:"groups"`
	Labels      map[string]string `json:"labels"`
	Discovery   Discovery         `json:"discovery"`
	NetworkName *string           `json:"networkName"`
}

// Discovery lists the ports of an IP-per-task app.
type Discovery struct {
	Ports []DiscoveryPort `json:"ports"`
}

// DiscoveryPort is one IP-per-task port.
type DiscoveryPort struct {
	Number   int               `json:"number"`
	Name     string            `json:"name"`
	Protocol string            `json:"protocol"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// HealthCheck is a Marathon health check definition.
type HealthCheck struct {
	Protocol               string `json:"protocol"`
	Path                   string `json:"path,omitempty"`
	PortIndex              *int   `json:"portIndex,omitempty"`
	Port                   *int   `json:"port,omitempty"`
	GracePeriodSeconds     int    `json:"gracePeriodSeconds"`
	IntervalSeconds        int    `json:"intervalSeconds"`
	TimeoutSeconds         int    `json:"timeoutSeconds"`
	MaxConsecutiveFailures int    `json:"maxConsecutiveFailures"`
	IgnoreHTTP1xx          bool   `json:"ignoreHttp1xx,omitempty"`
	DelaySeconds           int    `json:"delaySeconds"`
}

// ReadinessCheck is a Marathon readiness check definition.
type ReadinessCheck struct {
	Name                    string `json:"name"`
	Protocol                string `json:"protocol"`
	Path                    string `json:"path"`
	PortName                string `json:"portName"`
	IntervalSeconds         int    `json:"intervalSeconds"`
	TimeoutSeconds          int    `json:"timeoutSeconds"`
	HTTPStatusCodesForReady []int  `json:"httpStatusCodesForReady"`
	PreserveLastResponse    bool   `json:"preserveLastResponse"`
}

// VersionInfo is an app's version history.
type VersionInfo struct {
	LastScalingAt      string `json:"lastScalingAt"`
	LastConfigChangeAt string `json:"lastConfigChangeAt"`
}

// Task is a Marathon task as /v2/apps?embed=apps.tasks serves it.
type Task struct {
	ID                 string              `json:"id"`
	AppID              string              `json:"appId"`
	Host               string              `json:"host"`
	IPAddresses        []IPAddr            `json:"ipAddresses"`
	Ports              []int               `json:"ports"`
	ServicePorts       []int               `json:"servicePorts"`
	SlaveID            string              `json:"slaveId"`
	State              string              `json:"state"`
	StagedAt           string              `json:"stagedAt"`
	StartedAt          *string             `json:"startedAt"`
	Version            string              `json:"version"`
	HealthCheckResults []HealthCheckResult `json:"healthCheckResults,omitempty"`
	LocalVolumes       []any               `json:"localVolumes"`
}

// IPAddr is one of a task's addresses.
type IPAddr struct {
	IPAddress string `json:"ipAddress"`
	Protocol  string `json:"protocol"`
}

// HealthCheckResult is the state of one health check of one task.
type HealthCheckResult struct {
	Alive               bool    `json:"alive"`
	ConsecutiveFailures int     `json:"consecutiveFailures"`
	FirstSuccess        *string `json:"firstSuccess"`
	LastFailure         *string `json:"lastFailure"`
	LastSuccess         *string `json:"lastSuccess"`
	LastFailureCause    *string `json:"lastFailureCause"`
	InstanceID          string  `json:"instanceId"`
}

// readinessResult is one entry of an app's readinessCheckResults.
type readinessResult struct {
	Name         string `json:"name"`
	TaskID       string `json:"taskId"`
	Ready        bool   `json:"ready"`
	LastResponse *struct {
		Status      int    `json:"status"`
		ContentType string `json:"contentType"`
		Body        string `json:"body"`
	} `json:"lastResponse"`
}

type deploymentRef struct {
	ID string `json:"id"`
}

// appInfo is an app as /v2/apps serves it, with the embedded parts.
type appInfo struct {
	App
	Tasks                 *[]Task            `json:"tasks,omitempty"`
	TasksStaged           int                `json:"tasksStaged"`
	TasksRunning          int                `json:"tasksRunning"`
	TasksHealthy          int                `json:"tasksHealthy"`
	TasksUnhealthy        int                `json:"tasksUnhealthy"`
	Deployments           []deploymentRef    `json:"deployments"`
	ReadinessCheckResults *[]readinessResult `json:"readinessCheckResults,omitempty"`
}

// clone returns a deep copy of a, through JSON (the fake is not on a hot path).
func (a App) clone() App {
	b, err := json.Marshal(a)
	if err != nil {
		panic(err)
	}
	var c App
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return c
}
