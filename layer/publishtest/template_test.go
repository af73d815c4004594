package publishtest

// The SAM templates: layer/template.yaml (x86_64) and layer/sam/template-arm64.yaml, made from
// it by arm64Template (`make sam-templates` runs this test with -update). Both are parsed, and
// evaluated for every combination of their parameters' allowed values, as CloudFormation would:
// which resources exist, whether every Ref, GetAtt, Sub and If points at something that exists
// then, and whether the function that exists has the runtime, handler, architecture, code and
// layers its language needs. cfn-lint (with the SAM translator) checks them too, when installed.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite layer/sam/template-arm64.yaml from layer/template.yaml")

const arm64Header = "# GENERATED from layer/template.yaml by `make sam-templates`: edit that file, not this one.\n"

// arm64Template makes the arm64 template from the x86_64 one: architecture names, zip names,
// paths one folder deeper, and the layer names layer/publish gives arm64 layers (-arm64).
func arm64Template(src string) string {
	s := strings.NewReplacer(
		"x86_64", "arm64",
		"amd64", "arm64",
		"../dist/", "../../dist/",
		"../examples/", "../../examples/",
		"--template-file layer/template.yaml", "--template-file layer/sam/template-arm64.yaml",
	).Replace(src)
	s = regexp.MustCompile(`(LayerName: !Sub '\$\{LayerNamePrefix\}[a-z0-9-]*)'`).ReplaceAllString(s, "$1-arm64'")
	return arm64Header + s
}

type templateFile struct {
	path string // relative to the repository
	arch string // amd64 or arm64
}

var templates = []templateFile{{"layer/template.yaml", "amd64"}, {"layer/sam/template-arm64.yaml", "arm64"}}

func TestTemplateArm64IsGenerated(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root(t), "layer", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := arm64Template(string(src))
	path := filepath.Join(root(t), "layer", "sam", "template-arm64.yaml")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (make sam-templates writes it)", err)
	}
	if string(got) != want {
		t.Errorf("layer/sam/template-arm64.yaml is not what layer/template.yaml gives: run make sam-templates")
	}
	for _, bad := range []string{"x86_64", "amd64"} {
		if strings.Contains(want, bad) {
			t.Errorf("the arm64 template still says %s", bad)
		}
	}
}

// TestTemplates evaluates each template for every combination of parameter values.
func TestTemplates(t *testing.T) {
	for _, tf := range templates {
		t.Run(filepath.Base(tf.path), func(t *testing.T) {
			tpl := loadTemplate(t, filepath.Join(root(t), tf.path))
			awsArch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[tf.arch]
			publishNames := publishLayerNames(t, tf.arch)
			for _, params := range tpl.combinations(t) {
				t.Run(paramsName(params), func(t *testing.T) {
					stack, err := tpl.evaluate(params)
					if err != nil {
						t.Fatal(err)
					}
					checkStack(t, tf, awsArch, publishNames, params, stack)
				})
			}
		})
	}
}

// paramsName names a set of parameter values: "A=x,B=y", sorted.
func paramsName(params map[string]string) string {
	var kv []string
	for k, v := range params {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func checkStack(t *testing.T, tf templateFile, awsArch string, publishNames map[string]string, params map[string]string, stack map[string]map[string]any) {
	lang := params["ExampleLanguage"]
	kindOf := map[string]string{"RuntimeLayer": "runtime", "TclLayer": "tcl", "Python2Layer": "python2", "ToolsLayer": "tools"}
	var functions []string
	for id, res := range stack {
		if res["Type"] == "AWS::Serverless::Function" {
			functions = append(functions, id)
		}
	}
	if len(functions) != 1 {
		t.Fatalf("functions %v, want one", functions)
	}
	fn := stack[functions[0]]["Properties"].(map[string]any)
	if fn["Runtime"] != "provided.al2023" || fn["Handler"] != "function.handler" {
		t.Errorf("function: Runtime %v, Handler %v", fn["Runtime"], fn["Handler"])
	}
	if !reflect.DeepEqual(fn["Architectures"], []any{awsArch}) {
		t.Errorf("function: Architectures %v, want [%s]", fn["Architectures"], awsArch)
	}
	wantCode := map[string]string{"amd64": "../examples/", "arm64": "../../examples/"}[tf.arch] + lang
	if fn["CodeUri"] != wantCode {
		t.Errorf("function: CodeUri %v, want %s", fn["CodeUri"], wantCode)
	}
	ext := map[string]string{"bash": ".sh", "tcl": ".tcl", "python2": ".py"}[lang]
	code := filepath.Join(root(t), filepath.Dir(tf.path), wantCode, "function"+ext)
	if _, err := os.Stat(code); err != nil {
		t.Errorf("function: no handler file: %v", err)
	}
	wantLayers := []any{ref{"RuntimeLayer"}}
	if lang != "bash" {
		wantLayers = append(wantLayers, ref{map[string]string{"tcl": "TclLayer", "python2": "Python2Layer"}[lang]})
	}
	if params["WithToolsLayer"] == "true" {
		wantLayers = append(wantLayers, ref{"ToolsLayer"})
	}
	if !reflect.DeepEqual(fn["Layers"], wantLayers) {
		t.Errorf("function: Layers %v, want %v", fn["Layers"], wantLayers)
	}

	// Layers: created when asked for or needed, built from the zip make writes, compatible.
	for id, kind := range kindOf {
		res, exists := stack[id]
		wanted := kind == "runtime" || kind == lang || params[map[string]string{"tcl": "WithTclLayer", "python2": "WithPython2Layer", "tools": "WithToolsLayer"}[kind]] == "true"
		if exists != wanted {
			t.Errorf("%s exists: %v, want %v", id, exists, wanted)
		}
		if !exists {
			continue
		}
		if res["Type"] != "AWS::Serverless::LayerVersion" {
			t.Errorf("%s: type %v", id, res["Type"])
			continue
		}
		p := res["Properties"].(map[string]any)
		wantZip := map[string]string{"amd64": "../dist/", "arm64": "../../dist/"}[tf.arch] + zipName(kind, tf.arch)
		if p["ContentUri"] != wantZip {
			t.Errorf("%s: ContentUri %v, want %s", id, p["ContentUri"], wantZip)
		}
		if !reflect.DeepEqual(p["CompatibleRuntimes"], []any{"provided.al2023"}) || !reflect.DeepEqual(p["CompatibleArchitectures"], []any{awsArch}) {
			t.Errorf("%s: CompatibleRuntimes %v, CompatibleArchitectures %v", id, p["CompatibleRuntimes"], p["CompatibleArchitectures"])
		}
		if p["LayerName"] != publishNames[kind] {
			t.Errorf("%s: LayerName %v, but layer/publish names it %s", id, p["LayerName"], publishNames[kind])
		}
	}
}

// publishLayerNames is the layer names layer/publish --dry-run gives each kind of layer.
func publishLayerNames(t *testing.T, arch string) map[string]string {
	t.Helper()
	dist := makeDist(t, arch, "runtime", "tcl", "python2", "tools")
	r := dryRun(t, "--dist", dist, "--arch", arch, "--all", "--tools", "--build-version", "v1")
	if r.code != 0 {
		t.Fatalf("layer/publish --dry-run: %s", r.stderr)
	}
	names := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\w+)_arn=\$\(aws lambda publish-layer-version --layer-name (\S+) `).FindAllStringSubmatch(r.stdout, -1) {
		names[m[1]] = m[2]
	}
	if len(names) != 4 {
		t.Fatalf("layer names from layer/publish: %v\n%s", names, r.stdout)
	}
	return names
}

// TestTemplatesCfnLint runs cfn-lint, informational checks included, on both templates.
func TestTemplatesCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("*** cfn-lint NOT FOUND: the templates were NOT linted (pip install cfn-lint) ***")
	}
	args := []string{"--include-checks", "I", "--non-zero-exit-code", "informational", "--regions", "us-east-1", "eu-west-1", "--"}
	for _, tf := range templates {
		args = append(args, filepath.Join(root(t), tf.path))
	}
	if out, err := exec.Command(lint, args...).CombinedOutput(); err != nil {
		t.Errorf("cfn-lint: %v\n%s", err, out)
	}
}

// TestTemplatesPackage runs the AWS CLI's own `cloudformation package` code (awscli's
// artifact exporter, in Python) with an uploader that records instead of uploading: every local
// path the template names must resolve, and the packaged template refer to S3 only.
func TestTemplatesPackage(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import awscli.customizations.cloudformation.artifact_exporter").Run() != nil {
		t.Skip("*** the AWS CLI's Python package (awscli) NOT FOUND: `cloudformation package` was NOT tried ***")
	}
	// The zips the template names, with a fake dist/ when they are not built: the packager only
	// reads them. A copy of the repository's layer/ and examples/ keeps dist/ untouched.
	for _, tf := range templates {
		t.Run(filepath.Base(tf.path), func(t *testing.T) {
			tmp := t.TempDir()
			for _, dir := range []string{"layer", "examples"} {
				if err := copyTree(filepath.Join(root(t), dir), filepath.Join(tmp, dir)); err != nil {
					t.Fatal(err)
				}
			}
			dist := filepath.Join(tmp, "dist")
			if err := os.Mkdir(dist, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, kind := range []string{"runtime", "tcl", "python2", "tools"} {
				writeLayerZip(t, filepath.Join(dist, zipName(kind, tf.arch)), kind, tf.arch, 10)
			}
			out, err := exec.Command(python, "-c", packageScript, filepath.Join(tmp, tf.path), tmp).CombinedOutput()
			if err != nil {
				t.Fatalf("packaging: %v\n%s", err, out)
			}
			got := strings.Fields(string(bytes.TrimSpace(out)))
			sort.Strings(got)
			want := []string{"dist/" + zipName("python2", tf.arch), "dist/" + zipName("runtime", tf.arch), "dist/" + zipName("tcl", tf.arch), "dist/" + zipName("tools", tf.arch),
				"examples/bash/", "examples/python2/", "examples/tcl/"}
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("uploaded %q, want %q", got, want)
			}
		})
	}
}

// packageScript exports a template with awscli's exporter and a recording uploader; it prints
// what would be uploaded (folders with a trailing /, relative to the repository).
const packageScript = `
import contextlib, os, sys
from awscli.customizations.cloudformation import artifact_exporter as ae
path, top = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
uploaded = []
class Uploader(object):
    def upload_with_dedup(self, file_name, extension=None):
        uploaded.append(file_name)
        return 's3://bucket/%d' % len(uploaded)
    def to_path_style_s3_url(self, key, version=None):
        return 'https://s3.amazonaws.com/bucket/' + key
zipped = []
real_zip_folder = ae.zip_folder
@contextlib.contextmanager
def zip_folder(folder):
    zipped.append(folder)
    with real_zip_folder(folder) as z:
        yield z
ae.zip_folder = zip_folder
template = ae.Template(path, os.path.dirname(path), Uploader())
exported = template.export()
for r in exported['Resources'].values():
    for key in ('ContentUri', 'CodeUri'):
        v = r.get('Properties', {}).get(key)
        if v is not None and not str(v).startswith('s3://'):
            sys.exit('not packaged: %s %s' % (key, v))
folders = iter(zipped)
for f in uploaded:
    if f.endswith('.zip') and os.path.commonpath([f, top]) == top:
        print(os.path.relpath(f, top))
    else:
        print(os.path.relpath(next(folders), top) + '/')
`

// ---------------------------------------------------------------------------------------------
// A small CloudFormation evaluator
// ---------------------------------------------------------------------------------------------

// template is a parsed template: plain values (map[string]any, []any, string), with the short
// forms of intrinsic functions turned into their long forms ({"Ref": x}, {"Fn::If": [...]}).
type template struct {
	params     map[string]map[string]any
	conditions map[string]any
	resources  map[string]map[string]any
	outputs    map[string]map[string]any
	globals    map[string]any
}

// ref is an evaluated Ref or GetAtt of a resource.
type ref struct{ Resource string }

func loadTemplate(t *testing.T, path string) *template {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s is not YAML: %v", path, err)
	}
	v, err := plain(&doc)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: not a mapping", path)
	}
	for key := range top {
		if !slices.Contains([]string{"AWSTemplateFormatVersion", "Transform", "Description", "Parameters", "Conditions", "Globals", "Resources", "Outputs"}, key) {
			t.Errorf("%s: unexpected top-level key %s", path, key)
		}
	}
	if top["Transform"] != "AWS::Serverless-2016-10-31" || top["AWSTemplateFormatVersion"] != "2010-09-09" {
		t.Errorf("%s: Transform %v, AWSTemplateFormatVersion %v", path, top["Transform"], top["AWSTemplateFormatVersion"])
	}
	tpl := &template{
		params:     mapOfMaps(t, top["Parameters"]),
		resources:  mapOfMaps(t, top["Resources"]),
		outputs:    mapOfMaps(t, top["Outputs"]),
		conditions: map[string]any{},
		globals:    map[string]any{},
	}
	if c, ok := top["Conditions"].(map[string]any); ok {
		tpl.conditions = c
	}
	if g, ok := top["Globals"].(map[string]any); ok {
		if f, ok := g["Function"].(map[string]any); ok {
			tpl.globals = f
		}
	}
	return tpl
}

func mapOfMaps(t *testing.T, v any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	m, _ := v.(map[string]any)
	for k, v := range m {
		mm, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s is not a mapping", k)
		}
		out[k] = mm
	}
	return out
}

var shortForms = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!If": "Fn::If",
	"!Equals": "Fn::Equals", "!Or": "Fn::Or", "!And": "Fn::And", "!Not": "Fn::Not", "!Join": "Fn::Join",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Cidr": "Fn::Cidr",
}

// plain converts a YAML node to plain values, rejecting duplicate keys and unknown tags.
func plain(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		return plain(n.Content[0])
	case yaml.AliasNode:
		return plain(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %s", n.Content[i].Line, key)
			}
			val, err := plain(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[key] = val
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			val, err := plain(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		v = n.Value
	}
	if !strings.HasPrefix(n.Tag, "!") || n.Tag == "!!str" || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	long, ok := shortForms[n.Tag]
	if !ok {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	if long == "Fn::GetAtt" {
		if s, ok := v.(string); ok {
			resource, attr, _ := strings.Cut(s, ".")
			v = []any{resource, attr}
		}
	}
	return map[string]any{long: v}, nil
}

// combinations is every assignment of the parameters that have AllowedValues (the others take
// their Default).
func (tpl *template) combinations(t *testing.T) []map[string]string {
	t.Helper()
	combos := []map[string]string{{}}
	names := make([]string, 0, len(tpl.params))
	for name := range tpl.params {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := tpl.params[name]
		def, hasDefault := p["Default"].(string)
		if !hasDefault {
			t.Errorf("parameter %s has no default: the template must deploy as it is", name)
		}
		values := []string{def}
		if allowed, ok := p["AllowedValues"].([]any); ok {
			values = nil
			for _, a := range allowed {
				values = append(values, a.(string))
			}
			if !slices.Contains(values, def) {
				t.Errorf("parameter %s: default %q is not allowed", name, def)
			}
		}
		var next []map[string]string
		for _, c := range combos {
			for _, v := range values {
				n := map[string]string{name: v}
				for k, v := range c {
					n[k] = v
				}
				next = append(next, n)
			}
		}
		combos = next
	}
	return combos
}

// evaluation is one evaluation of a template for one set of parameter values.
type evaluation struct {
	tpl        *template
	params     map[string]string
	conditions map[string]bool
	exists     map[string]bool
}

// evaluate returns the resources that exist for params, with their properties evaluated (SAM's
// function Globals merged in), and checks the outputs that exist.
func (tpl *template) evaluate(params map[string]string) (map[string]map[string]any, error) {
	e := &evaluation{tpl: tpl, params: params, conditions: map[string]bool{}, exists: map[string]bool{}}
	for name := range tpl.conditions {
		if _, err := e.condition(name, nil); err != nil {
			return nil, err
		}
	}
	for id, res := range tpl.resources {
		ok, err := e.when(res)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		e.exists[id] = ok
	}
	stack := map[string]map[string]any{}
	for id, res := range tpl.resources {
		if !e.exists[id] {
			continue
		}
		props, err := e.value(res["Properties"])
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		pm, _ := props.(map[string]any)
		if res["Type"] == "AWS::Serverless::Function" {
			globals, err := e.value(tpl.globals)
			if err != nil {
				return nil, fmt.Errorf("Globals: %w", err)
			}
			pm = mergeGlobals(globals.(map[string]any), pm)
		}
		stack[id] = map[string]any{"Type": res["Type"], "Properties": pm}
	}
	for id, out := range tpl.outputs {
		ok, err := e.when(out)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", id, err)
		}
		if !ok {
			continue
		}
		if _, err := e.value(out["Value"]); err != nil {
			return nil, fmt.Errorf("output %s: %w", id, err)
		}
	}
	return stack, nil
}

// mergeGlobals merges SAM Globals into a function's properties: the function's own values win,
// except lists, which are concatenated (globals first).
func mergeGlobals(globals, props map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range globals {
		out[k] = v
	}
	for k, v := range props {
		gl, gIsList := out[k].([]any)
		pl, pIsList := v.([]any)
		if gIsList && pIsList {
			out[k] = append(slices.Clone(gl), pl...)
		} else {
			out[k] = v
		}
	}
	return out
}

// when tells whether a resource or output with an optional Condition exists.
func (e *evaluation) when(item map[string]any) (bool, error) {
	c, ok := item["Condition"]
	if !ok {
		return true, nil
	}
	name, ok := c.(string)
	if !ok {
		return false, fmt.Errorf("Condition is not a name: %v", c)
	}
	return e.condition(name, nil)
}

func (e *evaluation) condition(name string, seen []string) (bool, error) {
	if v, ok := e.conditions[name]; ok {
		return v, nil
	}
	expr, ok := e.tpl.conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	if slices.Contains(seen, name) {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	v, err := e.boolean(expr, append(seen, name))
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	e.conditions[name] = v
	return v, nil
}

func (e *evaluation) boolean(expr any, seen []string) (bool, error) {
	m, ok := expr.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("not a condition function: %v", expr)
	}
	for fn, arg := range m {
		list, _ := arg.([]any)
		switch fn {
		case "Condition":
			return e.condition(fmt.Sprint(arg), seen)
		case "Fn::Equals":
			if len(list) != 2 {
				return false, errors.New("Fn::Equals takes two values")
			}
			a, err := e.value(list[0])
			if err != nil {
				return false, err
			}
			b, err := e.value(list[1])
			if err != nil {
				return false, err
			}
			return reflect.DeepEqual(a, b), nil
		case "Fn::Not":
			if len(list) != 1 {
				return false, errors.New("Fn::Not takes one condition")
			}
			v, err := e.boolean(list[0], seen)
			return !v, err
		case "Fn::Or", "Fn::And":
			if len(list) < 2 || len(list) > 10 {
				return false, fmt.Errorf("%s takes 2 to 10 conditions", fn)
			}
			result := fn == "Fn::And"
			for _, c := range list {
				v, err := e.boolean(c, seen)
				if err != nil {
					return false, err
				}
				if fn == "Fn::Or" {
					result = result || v
				} else {
					result = result && v
				}
			}
			return result, nil
		}
		return false, fmt.Errorf("%s is not a condition function", fn)
	}
	return false, nil
}

var pseudoParams = []string{"AWS::AccountId", "AWS::NotificationARNs", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

// noValue is what Ref AWS::NoValue evaluates to: the property or list item is dropped.
type noValue struct{}

// value evaluates v: Ref, GetAtt, Sub and If, with every reference checked.
func (e *evaluation) value(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := []any{}
		for _, item := range v {
			x, err := e.value(item)
			if err != nil {
				return nil, err
			}
			if _, drop := x.(noValue); !drop {
				out = append(out, x)
			}
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				switch fn {
				case "Ref":
					return e.ref(fmt.Sprint(arg))
				case "Fn::GetAtt":
					l, _ := arg.([]any)
					if len(l) != 2 {
						return nil, fmt.Errorf("Fn::GetAtt %v", arg)
					}
					return e.resourceRef(fmt.Sprint(l[0]))
				case "Fn::If":
					l, _ := arg.([]any)
					if len(l) != 3 {
						return nil, fmt.Errorf("Fn::If takes a condition and two values: %v", arg)
					}
					c, err := e.condition(fmt.Sprint(l[0]), nil)
					if err != nil {
						return nil, err
					}
					if c {
						return e.value(l[1])
					}
					return e.value(l[2])
				case "Fn::Sub":
					return e.sub(arg)
				}
				if strings.HasPrefix(fn, "Fn::") {
					return nil, fmt.Errorf("%s is not evaluated by this test", fn)
				}
			}
		}
		out := map[string]any{}
		for k, item := range v {
			x, err := e.value(item)
			if err != nil {
				return nil, err
			}
			if _, drop := x.(noValue); !drop {
				out[k] = x
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

func (e *evaluation) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if slices.Contains(pseudoParams, name) {
		return "<" + name + ">", nil
	}
	if _, ok := e.tpl.params[name]; ok {
		if v, ok := e.params[name]; ok {
			return v, nil
		}
		return e.tpl.params[name]["Default"], nil
	}
	return e.resourceRef(name)
}

func (e *evaluation) resourceRef(name string) (any, error) {
	if _, ok := e.tpl.resources[name]; !ok {
		return nil, fmt.Errorf("refers to %s: no such parameter or resource", name)
	}
	if !e.exists[name] {
		return nil, fmt.Errorf("refers to %s, which does not exist when %v", name, e.params)
	}
	return ref{name}, nil
}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

func (e *evaluation) sub(arg any) (any, error) {
	s, ok := arg.(string)
	if !ok {
		return nil, fmt.Errorf("Fn::Sub with variables is not evaluated by this test: %v", arg)
	}
	var err error
	out := subVar.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		var v any
		var e2 error
		if resource, _, isAttr := strings.Cut(name, "."); isAttr {
			v, e2 = e.resourceRef(resource)
		} else {
			v, e2 = e.ref(name)
		}
		if e2 != nil {
			err = e2
			return m
		}
		return fmt.Sprint(v)
	})
	return out, err
}
