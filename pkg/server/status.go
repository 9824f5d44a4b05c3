package server

import (
	"errors"
	"sort"
	"time"
)

// Status is what the server sees, for /status.
type Status struct {
	UUID     string          `json:"uuid"`
	Name     string          `json:"name"`
	Relays   []RelayStatus   `json:"relays"`
	Sessions []SessionStatus `json:"sessions"`
}

// RelayStatus is the registration with one relay.
type RelayStatus struct {
	UUID       string    `json:"uuid"`
	Name       string    `json:"name"`
	Connected  bool      `json:"connected"`
	Since      time.Time `json:"since"`
	Reconnects int       `json:"reconnects"`
	LastError  string    `json:"last_error,omitempty"`
}

// SessionStatus is one client session.
type SessionStatus struct {
	ID      string    `json:"id"`
	Client  string    `json:"client"`
	User    string    `json:"user,omitempty"`
	Via     string    `json:"via"`
	Streams int64     `json:"streams"`
	Started time.Time `json:"started"`
}

// Status snapshots the server's relays and sessions.
func (s *Server) Status() Status {
	st := Status{UUID: s.self.UUID, Name: s.self.Name, Relays: []RelayStatus{}, Sessions: []SessionStatus{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.relays {
		st.Relays = append(st.Relays, RelayStatus{UUID: r.ref.UUID, Name: r.ref.Name, Connected: r.connected,
			Since: r.since, Reconnects: r.reconnects, LastError: r.lastError})
	}
	for _, ss := range s.sessions {
		cred := ss.credential()
		st.Sessions = append(st.Sessions, SessionStatus{ID: ss.id, Client: cred.client.Name, User: cred.client.User,
			Via: ss.via, Streams: ss.streams.Load(), Started: ss.started})
	}
	sort.Slice(st.Relays, func(i, j int) bool { return st.Relays[i].Name < st.Relays[j].Name })
	sort.Slice(st.Sessions, func(i, j int) bool { return st.Sessions[i].Started.Before(st.Sessions[j].Started) })
	return st
}

// Ready is nil once the server is registered with at least one relay (or has no relays and
// serves directly).
func (s *Server) Ready() error {
	if s.life.Closing() {
		return errors.New("server is shutting down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.relays) == 0 {
		return nil
	}
	for _, r := range s.relays {
		if r.connected {
			return nil
		}
	}
	return errors.New("not registered with any relay")
}
