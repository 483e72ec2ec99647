//go:build !linux

package bench

import "errors"

func setBatchScheduling(bool) error { return errors.New("batch scheduling needs Linux") }
