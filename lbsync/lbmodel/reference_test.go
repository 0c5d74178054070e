package lbmodel

import (
	"strings"
	"testing"
)

// TestReferenceNamesEveryLabelAndTemplate: --longhelp's reference has a
// meaning for every label the parser reads and every template's default.
func TestReferenceNamesEveryLabelAndTemplate(t *testing.T) {
	var b strings.Builder
	if err := WriteReference(&b); err != nil {
		t.Fatal(err)
	}
	ref := b.String()
	for _, d := range portLabelDefs {
		if labelMeanings[d.suffix] == "" {
			t.Errorf("label HAPROXY_{n}_%s has no meaning in the reference", d.suffix)
		}
		if !strings.Contains(ref, "HAPROXY_{n}_"+d.suffix+" ") {
			t.Errorf("reference lacks HAPROXY_{n}_%s", d.suffix)
		}
	}
	for _, name := range TemplateNames() {
		if !strings.Contains(ref, "## "+name+" — ") {
			t.Errorf("reference lacks template %s", name)
		}
	}
	if !strings.Contains(ref, "frontend marathon_http_in") {
		t.Error("reference lacks the default templates' text")
	}
}
