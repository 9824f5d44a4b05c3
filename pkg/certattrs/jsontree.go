package certattrs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The strict decoder parses the document into a small tree first, so that it can see
// duplicate keys (encoding/json keeps the last one silently), match keys exactly (encoding/json
// matches them case-insensitively), read "type" before the fields it governs, and name the
// field of every error.

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

type value struct {
	kind  kind
	str   string         // string contents, or the number's literal
	elems []*value       // array
	keys  []string       // object, in document order
	vals  []*value       // object, parallel to keys
	index map[string]int // object: key -> position in keys
	dup   string         // object: the first key that appears twice, if any
}

// maxDepth bounds nesting; the deepest valid document nests 5 levels.
const maxDepth = 16

// parseTree parses exactly one JSON value from doc; anything but white space after it is
// an error.
func parseTree(doc []byte) (*value, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON document")
	}
	// Token is a streaming tokenizer; make sure the whole document is also valid JSON
	// as one value.
	if !json.Valid(doc) {
		return nil, errors.New("invalid JSON")
	}
	return v, nil
}

func parseValue(dec *json.Decoder, depth int) (*value, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &value{kind: kindNull}, nil
	case bool:
		return &value{kind: kindBool, str: strconv.FormatBool(t)}, nil
	case json.Number:
		return &value{kind: kindNumber, str: string(t)}, nil
	case string:
		return &value{kind: kindString, str: t}, nil
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
		}
		switch t {
		case '[':
			v := &value{kind: kindArray}
			for dec.More() {
				e, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.elems = append(v.elems, e)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return v, nil
		case '{':
			v := &value{kind: kindObject, index: make(map[string]int)}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %v", kt)
				}
				e, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, seen := v.index[k]; seen {
					if v.dup == "" {
						v.dup = k
					}
				} else {
					v.index[k] = len(v.keys)
				}
				v.keys = append(v.keys, k)
				v.vals = append(v.vals, e)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// lookup returns the value of key in an object (the first, if repeated), or nil.
func (v *value) lookup(key string) *value {
	if i, ok := v.index[key]; ok {
		return v.vals[i]
	}
	return nil
}

func (v *value) describe() string {
	switch v.kind {
	case kindNumber:
		return "number " + v.str
	case kindBool:
		return v.str
	}
	return v.kind.String()
}

func wrongType(path, want string, v *value) error {
	return fieldErr(path, "want "+want+", got "+v.describe())
}

// object is a JSON object being decoded at path.
type object struct {
	path string
	v    *value
}

// openObject checks that v is an object with no duplicate keys and only the allowed keys.
func openObject(path string, v *value, allowed ...string) (*object, error) {
	if v.kind != kindObject {
		return nil, wrongType(path, "object", v)
	}
	if v.dup != "" {
		return nil, fieldErr(join(path, v.dup), "duplicate field")
	}
	for _, k := range v.keys {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return nil, fieldErr(join(path, k), "unknown field")
		}
	}
	return &object{path: path, v: v}, nil
}

// field returns the value of key, or an error if it is required and missing.
func (o *object) field(key string, required bool) (*value, error) {
	v := o.v.lookup(key)
	if v == nil && required {
		return nil, fieldErr(join(o.path, key), "missing")
	}
	return v, nil
}

func (o *object) str(key string, required bool) (string, error) {
	v, err := o.field(key, required)
	if v == nil || err != nil {
		return "", err
	}
	return asString(join(o.path, key), v)
}

func asString(path string, v *value) (string, error) {
	if v.kind != kindString {
		return "", wrongType(path, "string", v)
	}
	return v.str, nil
}

func (o *object) int(key string, required bool) (int, error) {
	v, err := o.field(key, required)
	if v == nil || err != nil {
		return 0, err
	}
	path := join(o.path, key)
	if v.kind != kindNumber {
		return 0, wrongType(path, "integer", v)
	}
	if strings.ContainsAny(v.str, ".eE") {
		return 0, fieldErr(path, "want integer, got "+v.str)
	}
	n, err := strconv.Atoi(v.str)
	if err != nil {
		return 0, fieldErr(path, v.str+" out of range")
	}
	return n, nil
}

func (o *object) array(key string, required bool) ([]*value, error) {
	v, err := o.field(key, required)
	if v == nil || err != nil {
		return nil, err
	}
	if v.kind != kindArray {
		return nil, wrongType(join(o.path, key), "array", v)
	}
	return v.elems, nil
}

func (o *object) strings(key string, required bool) ([]string, error) {
	elems, err := o.array(key, required)
	if err != nil || len(elems) == 0 {
		return nil, err
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		if out[i], err = asString(index(join(o.path, key), i), e); err != nil {
			return nil, err
		}
	}
	return out, nil
}
