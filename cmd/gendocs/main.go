// Command gendocs writes the reference documentation of the `sse` input and
// the `sse` scanner, as markdown, from their Benthos config specs:
//
//	go generate .                   # at the top of the module: runs the line below
//	go run ./cmd/gendocs            # writes docs/sse_input.md and docs/sse_scanner.md
//	go run ./cmd/gendocs -out /tmp  # writes them somewhere else
//
// Run it after changing a spec (config_spec.go holds its //go:generate
// line); tests/docs_test.go fails while the committed files differ from
// what it generates. It renders
// [service.ConfigView.TemplateData] with its own template because
// ConfigView.RenderDocs fails in Benthos v4.80.0.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	benthossse "github.com/benthos-sse/benthos-sse"
	_ "github.com/benthos-sse/benthos-sse/input"
)

// component is one documented plugin and the file its page goes to.
type component struct {
	kind string // "input" or "scanner"
	file string
}

var components = []component{
	{kind: "input", file: "sse_input.md"},
	{kind: "scanner", file: "sse_scanner.md"},
}

func main() {
	out := flag.String("out", "docs", "directory to write the markdown files to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, c := range components {
		view, err := lookup(c.kind)
		if err != nil {
			return err
		}
		page, err := render(view)
		if err != nil {
			return fmt.Errorf("%s: %w", c.kind, err)
		}
		if err := os.WriteFile(filepath.Join(out, c.file), page, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// lookup finds the `sse` plugin of a kind in the global environment, where
// the blank import of package input registered it.
func lookup(kind string) (*service.ConfigView, error) {
	var found *service.ConfigView
	visit := func(name string, v *service.ConfigView) {
		if name == "sse" {
			found = v
		}
	}
	env := service.GlobalEnvironment()
	switch kind {
	case "input":
		env.WalkInputs(visit)
	case "scanner":
		env.WalkScanners(visit)
	default:
		return nil, fmt.Errorf("unknown component kind %q", kind)
	}
	if found == nil {
		return nil, fmt.Errorf("no %s named sse is registered", kind)
	}
	return found, nil
}

// page is what the template sees.
type page struct {
	service.TemplateDataPlugin
	Categories []string
	Rows       []row
}

// row is one line of the field table.
type row struct {
	service.TemplateDataPluginField
	// Type is the field's type, or for an integer field that is declared
	// `any` so that lint can check it, the type it takes.
	Type     string
	Advanced bool
	// NoDefault is "required" or "optional" for a field without a default
	// that Benthos marks so, and empty otherwise.
	NoDefault string
}

func render(view *service.ConfigView) ([]byte, error) {
	td, err := view.TemplateData()
	if err != nil {
		return nil, err
	}
	p := page{TemplateDataPlugin: td}
	if td.Categories != "" {
		if err := json.Unmarshal([]byte(td.Categories), &p.Categories); err != nil {
			return nil, fmt.Errorf("categories %q: %w", td.Categories, err)
		}
	}
	common, err := configPaths(td.CommonConfigYAML)
	if err != nil {
		return nil, fmt.Errorf("common config: %w", err)
	}
	all, err := configPaths(td.AdvancedConfigYAML)
	if err != nil {
		return nil, fmt.Errorf("advanced config: %w", err)
	}
	for _, f := range td.Fields {
		typ := f.Type
		if t, ok := benthossse.DocumentedType(f.FullName); ok {
			typ = t
		} else if typ == "unknown" {
			return nil, fmt.Errorf("field %s is declared any: give it a type in benthossse.DocumentedType", f.FullName)
		}
		_, isCommon := common[f.FullName]
		noDefault := ""
		switch comment := all[f.FullName]; {
		case strings.Contains(comment, "No default (required)"):
			noDefault = "required"
		case strings.Contains(comment, "No default (optional)"):
			noDefault = "optional"
		}
		p.Rows = append(p.Rows, row{
			TemplateDataPluginField: f,
			Type:                    typ,
			// TemplateData has no advanced flag: a field is advanced when
			// the common config leaves it out.
			Advanced: !isCommon,
			// Benthos marks a field without a default in the example
			// config with "# No default (required)" or "(optional)".
			NoDefault: noDefault,
		})
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// configPaths maps the dotted path of every field in an example config (as
// TemplateData renders it) to the field's line comment. The config is the
// component's own object, possibly nested under its type ("input: {label,
// sse: {...}}") or under its name ("sse: {...}"); the paths are relative to
// the component, as in TemplateDataPluginField.FullName.
func configPaths(src string) (map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 {
		return nil, errors.New("empty config")
	}
	root := doc.Content[0]
	for _, key := range []string{"input", "sse"} {
		if v := child(root, key); v != nil {
			root = v
		}
	}
	paths := map[string]string{}
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := prefix + k.Value
			paths[path] = k.LineComment + v.LineComment
			switch v.Kind {
			case yaml.MappingNode:
				walk(path+".", v)
			case yaml.SequenceNode:
				for _, e := range v.Content {
					walk(path+"[].", e)
				}
			}
		}
	}
	walk("", root)
	return paths, nil
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"cell":     cell,
	"code":     code,
	"examples": examples,
	"trim":     strings.TrimSpace,
	"join":     strings.Join,
	"flags":    flags,
}).Parse(`<!-- Code generated by "go run ./cmd/gendocs"; DO NOT EDIT. -->

# ` + "`{{.Name}}`" + ` {{.Type}}

{{.Summary}}

- Status: {{.Status}}
{{- if .Categories}}
- Categories: {{join .Categories ", "}}
{{- end}}
{{- if .Version}}
- Since: {{.Version}}
{{- end}}

## Configuration

Common fields, with their defaults:

` + "```yaml" + `
{{trim .CommonConfigYAML}}
` + "```" + `

All fields:

` + "```yaml" + `
{{trim .AdvancedConfigYAML}}
` + "```" + `
{{- if .Description}}

## Description

{{trim .Description}}
{{- end}}

## Fields

A field flagged ` + "`interpolated`" + ` is evaluated before every connection attempt, reconnections included; every other field
is read once, when the component starts (after ` + "`${NAME}`" + ` environment variables are substituted).

| Field | Type | Default | Description | Examples | Flags |
|---|---|---|---|---|---|
{{- range .Rows}}
| {{code .FullName}} | {{.Type}} | {{with .DefaultMarshalled}}{{code .}}{{else}}{{with .NoDefault}}none ({{.}}){{else}}—{{end}}{{end}} | {{cell .Description}}{{with .Options}} Options: {{range $i, $o := .}}{{if $i}}, {{end}}{{code $o}}{{end}}.{{end}} | {{with .Examples}}{{examples .}}{{else}}—{{end}} | {{with flags .}}{{.}}{{else}}—{{end}} |
{{- end}}
{{- if .Examples}}

## Examples
{{- range .Examples}}

### {{.Title}}

{{trim .Summary}}

` + "```yaml" + `
{{trim .Config}}
` + "```" + `
{{- end}}
{{- end}}
{{- if .Footnotes}}

{{trim .Footnotes}}
{{- end}}
`))

// cell makes text fit in one markdown table cell: paragraphs become line
// breaks, other newlines spaces, and pipes are escaped.
func cell(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	s = strings.ReplaceAll(s, "\n\n", "<br><br>")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// flags lists the secret, advanced and interpolated flags of a field.
func flags(r row) string {
	var fs []string
	if r.IsSecret {
		fs = append(fs, "secret")
	}
	if r.Advanced {
		fs = append(fs, "advanced")
	}
	if r.IsInterpolated {
		fs = append(fs, "interpolated")
	}
	return strings.Join(fs, ", ")
}

// code renders s as an inline code span that survives a table cell.
func code(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + strings.ReplaceAll(s, "|", `\|`) + fence
}

// examples renders example values as JSON (which is also YAML), one inline
// code span each.
func examples(values []any) (string, error) {
	var spans []string
	for _, v := range values {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		spans = append(spans, code(strings.TrimSpace(buf.String())))
	}
	return strings.Join(spans, "<br>"), nil
}
