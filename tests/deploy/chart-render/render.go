// Command nsc-chart-render renders a Helm chart without Helm, for the tests: Go's
// text/template with sprig's functions and the few of Helm's the chart uses (include,
// toYaml, required, fail), .Release, .Chart and .Values, and values.schema.json checked
// with gojsonschema as Helm does. Usage:
//
//	nsc-chart-render [-name RELEASE] [-namespace NS] [-f VALUES.yaml]... CHART_DIR
//
// Output: the rendered objects as one multi-document YAML stream on stdout.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/xeipuuv/gojsonschema"
	"gopkg.in/yaml.v3"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

func loadYAML(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return m, nil
}

// merge folds src into dst as Helm merges -f files: maps merge, anything else replaces,
// and a null removes the key.
func merge(dst, src map[string]interface{}) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func toYAML(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func validate(chart string, values map[string]interface{}) error {
	schema, err := os.ReadFile(filepath.Join(chart, "values.schema.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	// through JSON, so that the validator sees the types a YAML file gives
	doc, err := json.Marshal(values)
	if err != nil {
		return err
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema),
		gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return fmt.Errorf("values.schema.json: %v", err)
	}
	if !res.Valid() {
		var msgs []string
		for _, e := range res.Errors() {
			msgs = append(msgs, "- "+e.String())
		}
		return fmt.Errorf("values don't meet the specifications of the schema:\n%s",
			strings.Join(msgs, "\n"))
	}
	return nil
}

func run() error {
	var files valueFiles
	name := flag.String("name", "nodescaler", "release name")
	ns := flag.String("namespace", "kube-system", "release namespace")
	flag.Var(&files, "f", "values file (repeatable, later ones win)")
	flag.Parse()
	if flag.NArg() != 1 {
		return errors.New("usage: nsc-chart-render [-name R] [-namespace NS] [-f VALUES]... CHART_DIR")
	}
	chart := flag.Arg(0)
	meta, err := loadYAML(filepath.Join(chart, "Chart.yaml"))
	if err != nil {
		return err
	}
	values, err := loadYAML(filepath.Join(chart, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		v, err := loadYAML(f)
		if err != nil {
			return err
		}
		merge(values, v)
	}
	if err := validate(chart, values); err != nil {
		return err
	}
	chartObj := map[string]interface{}{}
	for k, v := range meta {
		// Helm exposes Chart.yaml's fields capitalised: .Chart.Name, .Chart.AppVersion
		chartObj[strings.ToUpper(k[:1])+k[1:]] = v
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chartObj,
		"Release": map[string]interface{}{
			"Name": *name, "Namespace": *ns, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
	}

	t := template.New("chart")
	funcs := sprig.TxtFuncMap()
	funcs["toYaml"] = toYAML
	funcs["include"] = func(n string, data interface{}) (string, error) {
		var b bytes.Buffer
		err := t.ExecuteTemplate(&b, n, data)
		return b.String(), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	t.Funcs(funcs).Option("missingkey=zero")

	paths, err := filepath.Glob(filepath.Join(chart, "templates", "*"))
	if err != nil {
		return err
	}
	sort.Strings(paths)
	var names []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n := filepath.Join(filepath.Base(filepath.Clean(chart)), "templates", filepath.Base(p))
		if _, err := t.New(n).Parse(string(data)); err != nil {
			return err
		}
		if !strings.HasPrefix(filepath.Base(p), "_") {
			names = append(names, n)
		}
	}
	var out bytes.Buffer
	for _, n := range names {
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, n, top); err != nil {
			return err
		}
		s := strings.ReplaceAll(b.String(), "<no value>", "")
		if strings.TrimSpace(s) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", n, strings.Trim(s, "\n"))
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "nsc-chart-render:", err)
		os.Exit(1)
	}
}
