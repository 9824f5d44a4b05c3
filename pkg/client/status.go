package client

import (
	"errors"
	"time"
)

// Status is what the client sees, for /status.
type Status struct {
	UUID      string         `json:"uuid"`
	Name      string         `json:"name"`
	Server    string         `json:"server"`
	Session   *SessionStatus `json:"session"`
	LastError string         `json:"last_error,omitempty"`
}

// SessionStatus is the current session.
type SessionStatus struct {
	ID      string    `json:"id"`
	Via     string    `json:"via"`
	Since   time.Time `json:"since"`
	Streams int       `json:"streams"`
}

// Status snapshots the client's session.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{UUID: c.self.UUID, Name: c.self.Name, Server: c.self.Server.Name}
	if c.lastErr != nil {
		st.LastError = c.lastErr.Error()
	}
	if s := c.current; s != nil {
		st.Session = &SessionStatus{ID: s.id, Via: s.via, Since: s.since, Streams: s.mux.NumStreams()}
	}
	return st
}

// Ready is nil while a session to the server is established.
func (c *Client) Ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current == nil || c.current.mux.IsClosed() {
		if c.lastErr != nil {
			return c.lastErr
		}
		return errors.New("no session to the server yet")
	}
	return nil
}
