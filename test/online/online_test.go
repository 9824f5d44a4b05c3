// Package online holds the in-process end-to-end tests of the online CA: enrollment with
// tokens, refusals, and renewal under live sessions. They live apart from test/e2e because
// the embedded step-ca authority links github.com/golang/glog, whose init starts a flush
// goroutine that goleak must be told about.
package online

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}
