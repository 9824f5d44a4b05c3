package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Type is the kind of value a key holds.
type Type string

// Key types. Durations are strings parsed by time.ParseDuration ("5s", "1m30s").
const (
	TypeString   Type = "string"
	TypeBool     Type = "bool"
	TypeInt      Type = "int"
	TypeDuration Type = "duration"
)

// EnvPrefix starts every environment variable name.
const EnvPrefix = "SENTINEL_"

// Key is one configuration key.
type Key struct {
	Name    string // file key, dotted: "cert", "relay.listen"
	Env     string // environment variable: "SENTINEL_CERT", "SENTINEL_RELAY_LISTEN"
	Type    Type
	Default string // the default, formatted as it would be written ("" when empty)

	index []int // field path in document
}

// Keys lists every configuration key in file order. It is derived from Config's toml
// tags, so it cannot drift from what Load accepts.
func Keys() []Key {
	var keys []Key
	def := reflect.ValueOf(document{Config: Default()})
	walk(reflect.TypeFor[document](), "", nil, func(name string, index []int, typ Type) {
		keys = append(keys, Key{
			Name:    name,
			Env:     EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, ".", "_")),
			Type:    typ,
			Default: format(def.FieldByIndex(index)),
			index:   index,
		})
	})
	return keys
}

// walk calls leaf for every tagged field of t: sections (struct fields) prefix their keys,
// embedded structs add theirs at the same level, and fields tagged "-" are skipped.
func walk(t reflect.Type, prefix string, index []int, leaf func(name string, index []int, typ Type)) {
	for i := range t.NumField() {
		f := t.Field(i)
		idx := append(append([]int(nil), index...), i)
		tag := f.Tag.Get("toml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			walk(f.Type, prefix, idx, leaf)
			continue
		}
		if tag == "" {
			// Every key is spelled out; an untagged field is a bug in this package.
			panic(fmt.Sprintf("config: field %s has no toml tag", f.Name))
		}
		name := prefix + tag
		switch {
		case isDuration(f.Type):
			leaf(name, idx, TypeDuration)
		case f.Type.Kind() == reflect.String:
			leaf(name, idx, TypeString)
		case f.Type.Kind() == reflect.Bool:
			leaf(name, idx, TypeBool)
		case f.Type.Kind() == reflect.Int:
			leaf(name, idx, TypeInt)
		case f.Type.Kind() == reflect.Struct && prefix == "":
			walk(f.Type, name+".", idx, leaf)
		default:
			panic(fmt.Sprintf("config: field %s has unsupported type %s", f.Name, f.Type))
		}
	}
}

func format(v reflect.Value) string {
	switch {
	case isDuration(v.Type()):
		if v.Int() == 0 {
			return ""
		}
		return time.Duration(v.Int()).String()
	case v.Kind() == reflect.String:
		return v.String()
	case v.Kind() == reflect.Bool:
		return strconv.FormatBool(v.Bool())
	default:
		return strconv.FormatInt(v.Int(), 10)
	}
}

// applyEnv sets every key whose environment variable is present. An unparsable value is
// an error naming the variable.
func applyEnv(doc *document, keys []Key, lookupEnv func(string) (string, bool)) error {
	root := reflect.ValueOf(doc).Elem()
	for _, k := range keys {
		s, ok := lookupEnv(k.Env)
		if !ok {
			continue
		}
		f := root.FieldByIndex(k.index)
		switch k.Type {
		case TypeString:
			f.SetString(s)
		case TypeBool:
			b, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("%s: invalid boolean %q", k.Env, s)
			}
			f.SetBool(b)
		case TypeInt:
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("%s: invalid integer %q", k.Env, s)
			}
			f.SetInt(int64(n))
		case TypeDuration:
			d, err := time.ParseDuration(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("%s: invalid duration %q", k.Env, s)
			}
			f.SetInt(int64(d))
		}
	}
	return nil
}

func isDuration(t reflect.Type) bool { return t == reflect.TypeFor[time.Duration]() }
