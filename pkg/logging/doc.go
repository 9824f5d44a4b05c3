// Package logging builds Sentinel's process logger and the field marshalers that keep
// secrets, such as bearer tokens in HTTP headers, out of it.
package logging
