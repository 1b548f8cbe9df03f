package sandbox

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// SeedBase returns the instant the default seed's dates are relative to unless WithSeedBase
// says otherwise: 2026-01-01 00:00 UTC.
func SeedBase() time.Time { return time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC) }

const day = 24 * time.Hour

// seedDomain is one domain of the default seed: its age and its logins with their ages, oldest
// first (list order is creation order).
type seedDomain struct {
	name   string
	age    time.Duration
	logins []seedLogin
}

type seedLogin struct {
	local string
	age   time.Duration
}

// defaultSeed builds the default seed's domains. The only randomness is a fixed-seed PCG, so the
// data is the same on every run.
func defaultSeed() []seedDomain {
	rng := rand.New(rand.NewPCG(2026, 1))

	// example.com: user001 (about three years old) to user250 (a few days old), evenly spread
	// with up to a day of jitter, which keeps creation order and created_at in step.
	const n = 250
	const oldest, newest = 1095 * day, 3 * day
	step := (oldest - newest) / (n - 1)
	example := seedDomain{name: "example.com", age: oldest + 30*day}
	for i := 1; i <= n; i++ {
		age := oldest - time.Duration(i-1)*step - time.Duration(rng.Int64N(int64(day)))
		example.logins = append(example.logins, seedLogin{local: fmt.Sprintf("user%03d", i), age: age})
	}

	acme := seedDomain{name: "acme.example", age: 730 * day}
	// omar@acme.example is the demo operator persona's own login (self-service reset).
	acmeAges := []int{690, 610, 540, 455, 400, 320, 260, 190, 120, 75, 30, 9}
	for i, local := range []string{"alice", "bob", "carol", "omar", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "support"} {
		jitter := time.Duration(rng.Int64N(int64(12 * time.Hour)))
		acme.logins = append(acme.logins, seedLogin{local: local, age: time.Duration(acmeAges[i])*day - jitter})
	}

	news := seedDomain{name: "newsletter.example.org", age: 400 * day, logins: []seedLogin{
		{local: "news", age: 380*day + 5*time.Hour + 12*time.Minute},
		{local: "digest", age: 200*day + 9*time.Hour + 41*time.Minute},
		{local: "alerts", age: 30*day + 17*time.Hour + 3*time.Minute},
	}}

	empty := seedDomain{name: "empty.example", age: 20 * day}
	return []seedDomain{example, acme, news, empty}
}

// loadDefaultSeed adds the default seed; seeded passwords are random and known to nobody.
func (s *Server) loadDefaultSeed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sd := range defaultSeed() {
		d, err := s.addDomainLocked(sd.name, s.seedBase.Add(-sd.age))
		if err != nil {
			continue // already present (seeded twice): keep what is there
		}
		for _, l := range sd.logins {
			c := s.newCredentialLocked(l.local+"@"+d.name, s.seedBase.Add(-l.age).Truncate(time.Second))
			c.setUnknownPassword()
			d.append(c)
		}
	}
}
