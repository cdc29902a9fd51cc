package kinesis

// opUpdateStreamMode switches a stream between PROVISIONED and ON_DEMAND.
// The request names the stream by StreamARN only (the API has no
// StreamName). The shards stay as they are: switching changes how capacity
// is billed and scaled, not the topology. With limits on, a stream switches
// at most twice per rolling 24 hours, as AWS allows.
func (e *Emulator) opUpdateStreamMode(body []byte) ([]byte, error) {
	var in struct {
		StreamARN         *string `json:"StreamARN"`
		StreamModeDetails *struct {
			StreamMode string `json:"StreamMode"`
		} `json:"StreamModeDetails"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.StreamARN == nil {
		return nil, invalidArg("StreamARN is required")
	}
	if in.StreamModeDetails == nil {
		return nil, invalidArg("StreamModeDetails is required")
	}
	mode := in.StreamModeDetails.StreamMode
	if mode != modeProvisioned && mode != modeOnDemand {
		return nil, invalidArg("StreamMode %q is not PROVISIONED or ON_DEMAND", mode)
	}
	s, err := e.lookup(streamRef{StreamARN: in.StreamARN})
	if err != nil {
		return nil, err
	}
	if err := e.checkAccountLimit("UpdateStreamMode", s); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode == mode {
		return emptyOutput, nil
	}
	nowMs := e.nowMs()
	if s.limits {
		recent := s.modeSwitches[:0]
		for _, t := range s.modeSwitches {
			if nowMs-t < 24*3600*1000 {
				recent = append(recent, t)
			}
		}
		s.modeSwitches = recent
		if len(recent) >= modeSwitchesPer24h {
			return nil, newErr(errLimitExceeded, "stream %s already switched capacity mode %d times in the last 24 hours", s.name, modeSwitchesPer24h)
		}
	}
	s.modeSwitches = append(s.modeSwitches, nowMs)
	e.log.Info("kinesis stream mode updated", "stream", s.name, "from", s.mode, "to", mode)
	s.mode = mode
	return emptyOutput, nil
}
