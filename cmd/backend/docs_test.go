package main

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/config"
)

// The TestDocs* tests keep README.md, docs/ and configs/ honest: they fail when the code
// grows a key, a command or a flag the documents do not mention. Run them alone with
// `go test ./cmd/backend/ -run Docs`.

// repoFile reads a file relative to the repository root (tests run in cmd/backend).
func repoFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestDocsReadmeCommands: the README opens with the two commands that do everything, and the
// Makefile has both targets.
func TestDocsReadmeCommands(t *testing.T) {
	var block []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(repoFile(t, "README.md")))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if in {
				break
			}
			in = true
			continue
		}
		if in {
			block = append(block, line)
		}
	}
	if !in {
		t.Fatal("README.md has no fenced code block")
	}
	var cmds []string
	for _, line := range block {
		cmd, _, _ := strings.Cut(line, "#")
		cmds = append(cmds, strings.Join(strings.Fields(cmd), " "))
	}
	if want := []string{"make demo", "make test"}; !slices.Equal(cmds, want) {
		t.Fatalf("README.md's first code block runs %q, want exactly %q", cmds, want)
	}
	mk := repoFile(t, "Makefile")
	for _, target := range []string{"demo", "test"} {
		if !strings.Contains(mk, "\n"+target+":") {
			t.Errorf("Makefile has no %s target", target)
		}
	}
}

// tomlDefault is a key's default as it is written in TOML and in docs/CONFIG.md.
func tomlDefault(k config.Key) string {
	switch k.Type {
	case config.TypeString, config.TypeDuration:
		return strconv.Quote(k.Default)
	}
	return k.Default
}

// TestDocsConfigKeys: docs/CONFIG.md has one table row per key, with its environment
// variable, type and default.
func TestDocsConfigKeys(t *testing.T) {
	doc := repoFile(t, "docs/CONFIG.md")
	rows := map[string]string{}
	for _, line := range strings.Split(doc, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 2 && strings.HasPrefix(line, "|") {
			rows[strings.TrimSpace(cells[1])] = line
		}
	}
	for _, k := range config.Keys() {
		row, ok := rows["`"+k.Name+"`"]
		if !ok {
			t.Errorf("docs/CONFIG.md: no table row for key %s", k.Name)
			continue
		}
		for _, want := range []string{"`" + k.Env + "`", " " + string(k.Type) + " ", "`" + tomlDefault(k) + "`"} {
			if !strings.Contains(row, want) {
				t.Errorf("docs/CONFIG.md: row of %s lacks %s: %s", k.Name, want, row)
			}
		}
	}
}

// TestDocsConfigExamples: configs/<role>.toml loads, sets every key its role reads (the
// top-level keys, [log], [audit], [metrics] and its own section, nothing of the other roles)
// and sets each to its default.
func TestDocsConfigExamples(t *testing.T) {
	ca := testpki.NewCA(t, "Docs Root CA")
	relay := certattrs.Relay{UUID: "6f1c1c34-8d3e-4c59-9a4e-0c2f5b7a1d01", Name: "relay1", Address: "relay.example.com", Port: 8443}
	relays := []certattrs.RelayRef{{UUID: relay.UUID, Name: relay.Name, Addr: relay.Address, Port: relay.Port, Sort: 1}}
	res, err := certattrs.ParseResource("10.0.0.0/24:3306")
	if err != nil {
		t.Fatal(err)
	}
	res.UUID, res.Name = "0b7e2d55-3f4a-4f0e-8d8c-3e9a6c1b2f02", "db"
	server := certattrs.Server{UUID: "a38d0be3-ada3-45eb-a63b-ef01d0d7cb85", Name: "server1",
		Resources: []certattrs.Resource{res}, Relays: relays}
	leaves := map[string]certattrs.Attrs{
		"relay":  {Relay: &relay},
		"server": {Server: &server},
		"client": {Client: &certattrs.Client{Port: 48080, Relays: relays,
			Server: certattrs.ServerRef{UUID: server.UUID, Name: server.Name},
			Target: certattrs.Target{Host: "10.0.0.5", Port: 3306}}},
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "configs", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, f := range files {
		roles = append(roles, strings.TrimSuffix(filepath.Base(f), ".toml"))
	}
	slices.Sort(roles)
	if want := []string{"client", "relay", "server"}; !slices.Equal(roles, want) {
		t.Fatalf("configs/ holds %q, want one file per role %q", roles, want)
	}
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			path := filepath.Join("..", "..", "configs", role+".toml")
			leaf := ca.Issue(t, leaves[role], testpki.Opts{})
			dir := t.TempDir()
			env := map[string]string{}
			for name, data := range map[string][]byte{"CERT": leaf.CertPEM, "KEY": leaf.KeyPEM, "CA": ca.PEM} {
				p := filepath.Join(dir, strings.ToLower(name)+".pem")
				if err := os.WriteFile(p, data, 0o600); err != nil {
					t.Fatal(err)
				}
				env[config.EnvPrefix+name] = p
			}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			got, err := config.Load(path, lookup)
			if err != nil {
				t.Fatalf("config.Load(%s): %v", path, err)
			}

			// Every value is the default: the comments say "default".
			want := config.Default()
			want.Dir, want.Cert, want.Key, want.CA = got.Dir, got.Cert, got.Key, got.CA
			want.CertPath, want.KeyPath, want.CAPath = got.CertPath, got.KeyPath, got.CAPath
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("%s does not set every key to its default:\n got %+v\nwant %+v", path, *got, want)
			}

			// Every key of the role is written out, and no other role's.
			var raw map[string]any
			md, err := toml.DecodeFile(path, &raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range config.Keys() {
				section, _, nested := strings.Cut(k.Name, ".")
				mine := !nested || section == "log" || section == "audit" || section == "metrics" || section == role
				defined := md.IsDefined(strings.Split(k.Name, ".")...)
				switch {
				case mine && !defined:
					t.Errorf("%s: key %s is missing", path, k.Name)
				case !mine && defined:
					t.Errorf("%s: key %s belongs to another role", path, k.Name)
				}
			}
		})
	}
}

// TestDocsCLI: docs/CLI.md has a section per command, headed "`backend ca issue client`" and
// so on, naming each of the command's flags and its default (in the command's own section or
// its parent's).
func TestDocsCLI(t *testing.T) {
	doc := repoFile(t, "docs/CLI.md")
	sections := map[string]string{} // heading's command path -> section text
	var cur string
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "#") {
			cur = ""
			if _, rest, ok := strings.Cut(line, "`"); ok {
				if path, _, ok := strings.Cut(rest, "`"); ok {
					cur = strings.Join(strings.Fields(path), " ")
					sections[cur] = ""
				}
			}
			continue
		}
		if cur != "" {
			sections[cur] += line + "\n"
		}
	}
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		path := cmd.CommandPath()
		sec, ok := sections[path]
		if !ok {
			t.Errorf("docs/CLI.md: no section headed `%s`", path)
		}
		// Flags shared by sibling commands may be described once, in the parent's section
		// ("Flags common to the three issue commands").
		if p := cmd.Parent(); p != nil && p.HasParent() {
			sec += sections[p.CommandPath()]
		}
		for _, f := range localFlags(cmd) {
			if f.name == "help" || !ok {
				continue
			}
			if !strings.Contains(sec, "--"+f.name) {
				t.Errorf("docs/CLI.md: section `%s` does not mention --%s", path, f.name)
			}
			if f.def != "" && !strings.Contains(sec, f.def) {
				t.Errorf("docs/CLI.md: section `%s` does not give --%s's default %s", path, f.name, f.def)
			}
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	root := newRootCmd()
	if len(root.Commands()) == 0 {
		t.Fatalf("%s has no subcommands", root.Name())
	}
	walk(root)
}

type flagDoc struct{ name, def string }

// flagLine is one line of pflag's usage text: "  -c, --config string   text (default "x")".
var flagLine = regexp.MustCompile(`^\s+(?:-\w, )?--([\w-]+).*?(?: \(default (.+)\))?$`)

// localFlags lists cmd's own flags and their defaults as its usage text shows them (parsed
// from the text so this test needs nothing beyond cobra).
func localFlags(cmd *cobra.Command) []flagDoc {
	var out []flagDoc
	for _, line := range strings.Split(cmd.LocalFlags().FlagUsagesWrapped(0), "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			out = append(out, flagDoc{name: m[1], def: strings.Trim(m[2], `"`)})
		}
	}
	return out
}
