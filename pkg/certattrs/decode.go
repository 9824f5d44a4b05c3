package certattrs

import (
	"fmt"
	"strconv"
)

// decodeDocument decodes {"attrs": {...}} structurally: shapes, types, required and unknown
// fields. The rules on values are Validate's, except where a field is parsed into a Go
// value (a resource's host and ports).
func decodeDocument(root *value) (Attrs, error) {
	top, err := openObject("", root, "attrs")
	if err != nil {
		return Attrs{}, err
	}
	av, err := top.field("attrs", true)
	if err != nil {
		return Attrs{}, err
	}
	const path = "attrs"
	if av.kind != kindObject {
		return Attrs{}, wrongType(path, "object", av)
	}
	// The type decides which fields are allowed, so it is read first; the role's decoder
	// then checks the keys (unknown and duplicate ones included).
	o := &object{path: path, v: av}
	typ, err := o.str("type", true)
	if err != nil {
		return Attrs{}, err
	}
	switch Role(typ) {
	case RoleClient:
		c, err := decodeClient(path, av)
		return Attrs{Client: c}, err
	case RoleServer:
		s, err := decodeServer(path, av)
		return Attrs{Server: s}, err
	case RoleRelay:
		r, err := decodeRelay(path, av)
		return Attrs{Relay: r}, err
	}
	return Attrs{}, fieldErr(join(path, "type"), fmt.Sprintf("unknown role %q (want client, server or relay)", typ))
}

func decodeClient(path string, v *value) (*Client, error) {
	o, err := openObject(path, v, "type", "uuid", "name", "port", "relays", "server", "target",
		"user", "groups", "schedule")
	if err != nil {
		return nil, err
	}
	c := &Client{}
	if c.UUID, err = o.str("uuid", true); err != nil {
		return nil, err
	}
	if c.Name, err = o.str("name", true); err != nil {
		return nil, err
	}
	if c.Port, err = o.int("port", true); err != nil {
		return nil, err
	}
	if c.Relays, err = decodeRelayRefs(o); err != nil {
		return nil, err
	}
	sv, err := o.field("server", true)
	if err != nil {
		return nil, err
	}
	if c.Server, err = decodeServerRef(join(path, "server"), sv); err != nil {
		return nil, err
	}
	tv, err := o.field("target", true)
	if err != nil {
		return nil, err
	}
	if c.Target, err = decodeTarget(join(path, "target"), tv); err != nil {
		return nil, err
	}
	if c.User, err = o.str("user", false); err != nil {
		return nil, err
	}
	if c.Groups, err = o.strings("groups", false); err != nil {
		return nil, err
	}
	schv, err := o.field("schedule", false)
	if err != nil {
		return nil, err
	}
	if schv != nil {
		if c.Schedule, err = decodeSchedule(join(path, "schedule"), schv); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func decodeServer(path string, v *value) (*Server, error) {
	o, err := openObject(path, v, "type", "uuid", "name", "host", "port", "out_port", "resources", "relays")
	if err != nil {
		return nil, err
	}
	s := &Server{}
	if s.UUID, err = o.str("uuid", true); err != nil {
		return nil, err
	}
	if s.Name, err = o.str("name", true); err != nil {
		return nil, err
	}
	if s.Host, err = o.str("host", false); err != nil {
		return nil, err
	}
	if s.Port, err = o.int("port", true); err != nil {
		return nil, err
	}
	if s.OutPort, err = o.int("out_port", false); err != nil {
		return nil, err
	}
	elems, err := o.array("resources", true)
	if err != nil {
		return nil, err
	}
	for i, e := range elems {
		r, err := decodeResource(index(join(path, "resources"), i), e)
		if err != nil {
			return nil, err
		}
		s.Resources = append(s.Resources, r)
	}
	if s.Relays, err = decodeRelayRefs(o); err != nil {
		return nil, err
	}
	return s, nil
}

func decodeRelay(path string, v *value) (*Relay, error) {
	o, err := openObject(path, v, "type", "uuid", "name", "address", "port")
	if err != nil {
		return nil, err
	}
	r := &Relay{}
	if r.UUID, err = o.str("uuid", true); err != nil {
		return nil, err
	}
	if r.Name, err = o.str("name", true); err != nil {
		return nil, err
	}
	if r.Address, err = o.str("address", true); err != nil {
		return nil, err
	}
	if r.Port, err = o.int("port", true); err != nil {
		return nil, err
	}
	return r, nil
}

func decodeRelayRefs(o *object) ([]RelayRef, error) {
	elems, err := o.array("relays", false)
	if err != nil {
		return nil, err
	}
	var out []RelayRef
	for i, e := range elems {
		ro, err := openObject(index(join(o.path, "relays"), i), e, "uuid", "name", "addr", "port", "sort")
		if err != nil {
			return nil, err
		}
		var r RelayRef
		if r.UUID, err = ro.str("uuid", true); err != nil {
			return nil, err
		}
		if r.Name, err = ro.str("name", true); err != nil {
			return nil, err
		}
		if r.Addr, err = ro.str("addr", true); err != nil {
			return nil, err
		}
		if r.Port, err = ro.int("port", true); err != nil {
			return nil, err
		}
		if r.Sort, err = ro.int("sort", true); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func decodeServerRef(path string, v *value) (ServerRef, error) {
	var s ServerRef
	o, err := openObject(path, v, "uuid", "name", "addr", "out_port")
	if err != nil {
		return s, err
	}
	if s.UUID, err = o.str("uuid", true); err != nil {
		return s, err
	}
	if s.Name, err = o.str("name", true); err != nil {
		return s, err
	}
	if s.Addr, err = o.str("addr", false); err != nil {
		return s, err
	}
	if s.OutPort, err = o.int("out_port", false); err != nil {
		return s, err
	}
	return s, nil
}

func decodeTarget(path string, v *value) (Target, error) {
	var t Target
	o, err := openObject(path, v, "host", "port")
	if err != nil {
		return t, err
	}
	if t.Host, err = o.str("host", true); err != nil {
		return t, err
	}
	if t.Port, err = o.int("port", true); err != nil {
		return t, err
	}
	return t, nil
}

func decodeSchedule(path string, v *value) (*Schedule, error) {
	o, err := openObject(path, v, "tz", "days", "from", "to")
	if err != nil {
		return nil, err
	}
	s := &Schedule{}
	if s.TZ, err = o.str("tz", true); err != nil {
		return nil, err
	}
	if s.Days, err = o.strings("days", false); err != nil {
		return nil, err
	}
	if s.From, err = o.str("from", true); err != nil {
		return nil, err
	}
	if s.To, err = o.str("to", true); err != nil {
		return nil, err
	}
	return s, nil
}

func decodeResource(path string, v *value) (Resource, error) {
	var r Resource
	o, err := openObject(path, v, "uuid", "name", "type", "host", "port", "ports")
	if err != nil {
		return r, err
	}
	if r.UUID, err = o.str("uuid", true); err != nil {
		return r, err
	}
	if r.Name, err = o.str("name", true); err != nil {
		return r, err
	}
	if r.Type, err = o.str("type", true); err != nil {
		return r, err
	}
	host, err := o.str("host", true)
	if err != nil {
		return r, err
	}
	if r.Prefix, err = parseCIDR(host); err != nil {
		return r, &FieldError{Field: join(path, "host"), Err: err}
	}
	pv, psv := v.lookup("port"), v.lookup("ports")
	switch {
	case pv != nil && psv != nil:
		return r, fieldErr(path, "both port and ports (want exactly one)")
	case pv != nil:
		n, err := o.int("port", true)
		if err != nil {
			return r, err
		}
		if n < 1 || n > 65535 {
			return r, fieldErr(join(path, "port"), strconv.Itoa(n)+" out of range 1-65535")
		}
		r.Ports = PortRange{First: uint16(n), Last: uint16(n)}
	case psv != nil:
		s, err := o.str("ports", true)
		if err != nil {
			return r, err
		}
		if r.Ports, err = parsePortRange(s); err != nil {
			return r, &FieldError{Field: join(path, "ports"), Err: err}
		}
	default:
		return r, fieldErr(join(path, "port"), "missing (want port or ports)")
	}
	return r, nil
}
