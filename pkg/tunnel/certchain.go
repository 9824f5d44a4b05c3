package tunnel

import (
	"bufio"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits of a certificate chain handed over in a session: leaf plus intermediates.
const (
	MaxChainCerts = 4
	maxCertLine   = 16 << 10
)

// WriteCertChain writes chain (leaf first) as "cert <base64 DER>" lines and an "end" line.
func WriteCertChain(w io.Writer, chain []*x509.Certificate) error {
	var b strings.Builder
	for _, c := range chain {
		b.WriteString("cert ")
		b.WriteString(base64.StdEncoding.EncodeToString(c.Raw))
		b.WriteByte('\n')
	}
	b.WriteString("end\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// ReadCertChain reads what WriteCertChain wrote, strictly: at most MaxChainCerts
// certificates, each line bounded, canonical base64, DER that parses as a certificate.
func ReadCertChain(r io.Reader) ([]*x509.Certificate, error) {
	br := bufio.NewReaderSize(r, maxCertLine+16)
	var chain []*x509.Certificate
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("certificate chain: line too long")
		}
		if err != nil {
			return nil, fmt.Errorf("certificate chain: %w", err)
		}
		text := string(line[:len(line)-1])
		if text == "end" {
			if len(chain) == 0 {
				return nil, errors.New("certificate chain: empty")
			}
			return chain, nil
		}
		b64, ok := strings.CutPrefix(text, "cert ")
		if !ok {
			return nil, fmt.Errorf("certificate chain: malformed line %q", truncate(text, 40))
		}
		if len(chain) == MaxChainCerts {
			return nil, fmt.Errorf("certificate chain: more than %d certificates", MaxChainCerts)
		}
		der, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("certificate chain: certificate %d: %w", len(chain), err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate chain: certificate %d: %w", len(chain), err)
		}
		chain = append(chain, cert)
	}
}
