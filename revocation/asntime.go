package revocation

import (
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// timeOrZero holds a time read by cryptobyte.
type timeOrZero struct{ t time.Time }

// fastUTCTime reads the two canonical DER time forms, UTCTime
// "YYMMDDHHMMSSZ" and GeneralizedTime "YYYYMMDDHHMMSSZ", without going
// through time.Parse. It accepts exactly what cryptobyte's ReadASN1UTCTime
// and ReadASN1GeneralizedTime accept for these forms (years 50-99 of a
// UTCTime are 19xx) and returns false, leaving s untouched, for anything
// else, so the caller falls back to cryptobyte. TestFastTimeMatchesCryptobyte
// and FuzzParseCRL check the equivalence.
func fastUTCTime(s *cryptobyte.String) (int64, bool) {
	b := *s
	var year, p int
	switch {
	case len(b) >= 15 && b[0] == 0x17 && b[1] == 13 && b[14] == 'Z':
		yy, ok := digits2(b[2:])
		if !ok {
			return 0, false
		}
		year = 2000 + yy
		if yy >= 50 {
			year = 1900 + yy
		}
		p = 4
	case len(b) >= 17 && b[0] == 0x18 && b[1] == 15 && b[16] == 'Z':
		hi, ok1 := digits2(b[2:])
		lo, ok2 := digits2(b[4:])
		if !ok1 || !ok2 {
			return 0, false
		}
		year = hi*100 + lo
		p = 6
	default:
		return 0, false
	}
	month, ok1 := digits2(b[p:])
	day, ok2 := digits2(b[p+2:])
	hour, ok3 := digits2(b[p+4:])
	minute, ok4 := digits2(b[p+6:])
	sec, ok5 := digits2(b[p+8:])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	*s = b[p+11:]
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC).Unix(), true
}

func digits2(b []byte) (int, bool) {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
