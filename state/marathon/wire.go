package marathon

import "encoding/json"

// The types below mirror the parts of Marathon's
// GET /v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.readiness
// response that discovery reads. They exist only to be decoded and converted into
// App values; nothing outside this package sees them. Fields Marathon may send as
// null or omit are pointers or slices, so that "absent" can be told from "empty"
// where marathon-lb makes that distinction.

// marathonAppsDoc is the whole /v2/apps response. Apps is a pointer so that a
// document without an "apps" array (an error body, {}) is refused rather than read
// as "no apps".
type marathonAppsDoc struct {
	Apps *[]marathonApp `json:"apps"`
}

type marathonApp struct {
	ID        string            `json:"id"`
	Labels    map[string]string `json:"labels"`
	Instances int               `json:"instances"`
	// Ports is the pre-1.0 list of service ports; PortDefinitions replaces it
	// and wins when present (even empty), as in marathon-lb.
	Ports           []int                     `json:"ports"`
	PortDefinitions *[]marathonPortDefinition `json:"portDefinitions"`
	Container       *marathonContainer        `json:"container"`
	// Networks is Marathon 1.5+; the last entry decides the mode.
	Networks []marathonNetwork `json:"networks"`
	// IPAddress is the legacy (pre-1.5) IP-per-task definition. It is kept raw
	// because marathon-lb treats an empty object like an absent one.
	IPAddress             json.RawMessage           `json:"ipAddress"`
	HealthChecks          []marathonHealthCheck     `json:"healthChecks"`
	Deployments           []marathonDeploymentRef   `json:"deployments"`
	ReadinessCheckResults []marathonReadinessResult `json:"readinessCheckResults"`
	VersionInfo           *marathonVersionInfo      `json:"versionInfo"`
	Tasks                 []marathonTask            `json:"tasks"`
}

type marathonPortDefinition struct {
	Port     int               `json:"port"`
	Name     string            `json:"name"`
	Protocol string            `json:"protocol"`
	Labels   map[string]string `json:"labels"`
}

type marathonContainer struct {
	Type string `json:"type"`
	// PortMappings is where Marathon 1.5+ keeps them for every container type.
	PortMappings []marathonPortMapping `json:"portMappings"`
	Docker       *marathonDocker       `json:"docker"`
}

type marathonDocker struct {
	// Network is the pre-1.5 Docker network mode: HOST, BRIDGE or USER.
	Network      string                `json:"network"`
	PortMappings []marathonPortMapping `json:"portMappings"`
}

type marathonPortMapping struct {
	ContainerPort int               `json:"containerPort"`
	HostPort      int               `json:"hostPort"`
	ServicePort   int               `json:"servicePort"`
	Name          string            `json:"name"`
	Protocol      string            `json:"protocol"`
	Labels        map[string]string `json:"labels"`
}

type marathonNetwork struct {
	// Mode is "host", "container/bridge" or "container"; Marathon defaults a
	// missing mode to "container".
	Mode *string `json:"mode"`
	Name string  `json:"name"`
}

type marathonIPAddress struct {
	Discovery *struct {
		Ports []marathonDiscoveryPort `json:"ports"`
	} `json:"discovery"`
}

type marathonDiscoveryPort struct {
	Number   int               `json:"number"`
	Name     string            `json:"name"`
	Protocol string            `json:"protocol"`
	Labels   map[string]string `json:"labels"`
}

type marathonHealthCheck struct {
	Protocol               string `json:"protocol"`
	Path                   string `json:"path"`
	PortIndex              int    `json:"portIndex"`
	Port                   int    `json:"port"`
	IntervalSeconds        int    `json:"intervalSeconds"`
	TimeoutSeconds         int    `json:"timeoutSeconds"`
	GracePeriodSeconds     int    `json:"gracePeriodSeconds"`
	MaxConsecutiveFailures int    `json:"maxConsecutiveFailures"`
	IgnoreHTTP1xx          bool   `json:"ignoreHttp1xx"`
}

type marathonDeploymentRef struct {
	ID string `json:"id"`
}

type marathonReadinessResult struct {
	Name   string `json:"name"`
	TaskID string `json:"taskId"`
	Ready  bool   `json:"ready"`
}

type marathonVersionInfo struct {
	LastScalingAt      string `json:"lastScalingAt"`
	LastConfigChangeAt string `json:"lastConfigChangeAt"`
}

type marathonTask struct {
	ID    string `json:"id"`
	AppID string `json:"appId"`
	// SlaveID is what Marathon sends; AgentID is accepted too.
	SlaveID      string              `json:"slaveId"`
	AgentID      string              `json:"agentId"`
	Host         string              `json:"host"`
	Ports        []int               `json:"ports"`
	ServicePorts []int               `json:"servicePorts"`
	IPAddresses  []marathonIPAddr    `json:"ipAddresses"`
	State        string              `json:"state"`
	StartedAt    string              `json:"startedAt"`
	Version      string              `json:"version"`
	Draining     bool                `json:"draining"`
	HealthChecks *[]marathonHCResult `json:"healthCheckResults"`
}

type marathonIPAddr struct {
	IPAddress string `json:"ipAddress"`
	Protocol  string `json:"protocol"`
}

type marathonHCResult struct {
	Alive bool `json:"alive"`
}
