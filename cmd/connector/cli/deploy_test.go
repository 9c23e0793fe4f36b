package cli

import (
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/connector-gateway/connector/portal"
)

const deployDir = "../../../deploy/"

// envNames are the CONNECTOR_* variables the binary reads.
func envNames() map[string]bool {
	m := map[string]bool{EnvPrefix + "_CONFIG": true}
	for _, k := range Keys() {
		m[EnvPrefix+"_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = true
	}
	return m
}

var envRef = regexp.MustCompile(`\bCONNECTOR_[A-Z0-9_]+\b`)

// yamlDocs parses every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s does not parse: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs
}

// The compose file and the Kubernetes manifests parse, and every CONNECTOR_
// variable they set is one the binary reads.
func TestDeployFilesNameRealKeys(t *testing.T) {
	known := envNames()
	for _, f := range []string{"compose.yaml", "kubernetes/gateway.yaml", "systemd/connector.service", "Dockerfile"} {
		path := deployDir + f
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".yaml") && len(yamlDocs(t, path)) == 0 {
			t.Fatalf("%s has no YAML documents", f)
		}
		for _, name := range envRef.FindAllString(string(raw), -1) {
			if !known[name] {
				t.Errorf("%s sets %s, which the binary does not read", f, name)
			}
		}
	}
	compose := yamlDocs(t, deployDir+"compose.yaml")[0]
	services, _ := compose["services"].(map[string]any)
	for _, svc := range []string{"gateway", "mariadb"} {
		s, ok := services[svc].(map[string]any)
		if !ok {
			t.Fatalf("compose has no %s service", svc)
		}
		if _, ok := s["healthcheck"]; !ok {
			t.Errorf("compose service %s has no health check", svc)
		}
	}
	kinds := map[string]bool{}
	for _, d := range yamlDocs(t, deployDir+"kubernetes/gateway.yaml") {
		kind, _ := d["kind"].(string)
		kinds[kind] = true
		if kind == "ConfigMap" {
			data, _ := d["data"].(map[string]any)
			cfgText, _ := data["connector.yaml"].(string)
			p := filepath.Join(t.TempDir(), "connector.yaml")
			if err := os.WriteFile(p, []byte(cfgText), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("CONNECTOR_SECRETS_KEY", portal.NewKey())
			t.Setenv("CONNECTOR_DATABASE_DSN", "u:p@tcp(db:3306)/connector")
			if _, err := loadConfig(flagsFor(t, "--config", p)); err != nil {
				t.Errorf("the ConfigMap's connector.yaml is not a valid config: %v", err)
			}
		}
		if kind == "Deployment" {
			spec, _ := d["spec"].(map[string]any)
			if spec["replicas"] != 2 {
				t.Errorf("Deployment replicas = %v, want 2", spec["replicas"])
			}
		}
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} {
		if !kinds[k] {
			t.Errorf("manifests lack a %s", k)
		}
	}
}

// CGO_ENABLED=0 gives a static binary, which the distroless image needs.
func TestStaticBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "connector")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/connector-gateway/connector/cmd/connector")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("binary asks for a dynamic loader: not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("binary links %v", libs)
	}
	if st, err := os.Stat(bin); err == nil {
		t.Logf("static binary: %.1f MB", float64(st.Size())/(1<<20))
	}
}
