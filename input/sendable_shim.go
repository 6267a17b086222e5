package input

// Temporary: the sse core's SendableID and MaxIDLength (PROTOCOL contract),
// until that lands on main. Replaced by sse.SendableID / sse.MaxIDLength.

const shimMaxIDLength = 4096

func shimSendableID(id string) bool {
	if len(id) > shimMaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
