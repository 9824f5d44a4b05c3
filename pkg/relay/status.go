package relay

import (
	"errors"
	"sort"
	"time"
)

// Status is what the relay sees, for /status.
type Status struct {
	UUID     string          `json:"uuid"`
	Name     string          `json:"name"`
	Servers  []ServerStatus  `json:"servers"`
	Sessions []SessionStatus `json:"sessions"`
	Pending  int             `json:"pending_opens"`
}

// ServerStatus is one registered server.
type ServerStatus struct {
	UUID     string    `json:"uuid"`
	Name     string    `json:"name"`
	Channels int       `json:"channels"`
	Since    time.Time `json:"since"`
	Remote   []string  `json:"remote"`
}

// SessionStatus is one spliced session.
type SessionStatus struct {
	ID      string    `json:"id"`
	Client  string    `json:"client"`
	Server  string    `json:"server"`
	Remote  string    `json:"remote"`
	Started time.Time `json:"started"`
}

// Status snapshots the relay's registry.
func (r *Relay) Status() Status {
	st := Status{UUID: r.self.UUID, Name: r.self.Name, Servers: []ServerStatus{}, Sessions: []SessionStatus{}}
	r.mu.Lock()
	defer r.mu.Unlock()
	for uuid, list := range r.controls {
		s := ServerStatus{UUID: uuid, Channels: len(list)}
		for _, c := range list {
			s.Name = c.serverName
			s.Remote = append(s.Remote, c.remote)
			if s.Since.IsZero() || c.since.Before(s.Since) {
				s.Since = c.since
			}
		}
		st.Servers = append(st.Servers, s)
	}
	for _, s := range r.sessions {
		st.Sessions = append(st.Sessions, SessionStatus{ID: s.id, Client: s.clientName, Server: s.serverName, Remote: s.clientRemote, Started: s.started})
	}
	st.Pending = len(r.pending)
	sort.Slice(st.Servers, func(i, j int) bool { return st.Servers[i].Name < st.Servers[j].Name })
	sort.Slice(st.Sessions, func(i, j int) bool { return st.Sessions[i].Started.Before(st.Sessions[j].Started) })
	return st
}

// Ready is nil while the relay serves and takes new sessions (not draining).
func (r *Relay) Ready() error {
	if r.draining.Load() || r.life.Closing() {
		return errors.New("relay is shutting down")
	}
	return nil
}
