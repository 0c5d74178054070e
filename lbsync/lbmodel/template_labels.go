package lbmodel

import (
	"fmt"
	"slices"
	"strings"
)

// Template labels (HAPROXY_{n}_<TEMPLATE>) let an app author write any
// HAProxy configuration: a backend section that serves a file, a bind on any
// port, a global directive. marathon-lb applies them all, and so do we by
// default so that existing apps keep working; the operator decides who may
// instead: -lb-template-labels=none, or a list of the templates app authors
// may set.

// templateLabelAllowed reports whether an app label may override the
// template name (without HAPROXY_).
func (c *Config) templateLabelAllowed(name string) bool {
	if c.IgnoreTemplateLabels {
		return false
	}
	return c.TemplateLabels == nil || slices.Contains(c.TemplateLabels, name)
}

// templateLabelsFlag is -lb-template-labels: all, none, or a comma list of
// per-app template names (with or without HAPROXY_).
type templateLabelsFlag struct{ c *Config }

func (f templateLabelsFlag) String() string {
	if f.c == nil {
		return "all"
	}
	switch {
	case f.c.IgnoreTemplateLabels:
		return "none"
	case f.c.TemplateLabels == nil:
		return "all"
	}
	return strings.Join(f.c.TemplateLabels, ",")
}

func (f templateLabelsFlag) Set(v string) error {
	switch strings.TrimSpace(v) {
	case "all":
		f.c.IgnoreTemplateLabels, f.c.TemplateLabels = false, nil
		return nil
	case "none":
		f.c.IgnoreTemplateLabels, f.c.TemplateLabels = true, nil
		return nil
	}
	names, err := ParseTemplateLabels(v)
	if err != nil {
		return err
	}
	f.c.IgnoreTemplateLabels, f.c.TemplateLabels = false, names
	return nil
}

// ParseTemplateLabels reads a comma list of template names that app labels
// may override; each must be a per-app template.
func ParseTemplateLabels(v string) ([]string, error) {
	names := []string{}
	for _, item := range SplitList(v) {
		name := strings.TrimPrefix(item, "HAPROXY_")
		i, ok := templateIndex[name]
		if !ok || !templateDefs[i].perApp {
			return nil, fmt.Errorf("%q is not a template app labels can override", item)
		}
		names = appendUnique(names, name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("want all, none or a list of templates, got %q", v)
	}
	return names, nil
}
