package ui

import "strings"

// glyphs is a 5×5 pixel font for device codes: Entra ID codes use letters
// and digits. Zero is slashed so it is not read as O.
var glyphs = map[rune][5]string{
	'0': {" ### ", "#  ##", "# # #", "##  #", " ### "},
	'1': {"  #  ", " ##  ", "  #  ", "  #  ", " ### "},
	'2': {"#### ", "    #", " ### ", "#    ", "#####"},
	'3': {"#### ", "    #", " ### ", "    #", "#### "},
	'4': {"#   #", "#   #", "#####", "    #", "    #"},
	'5': {"#####", "#    ", "#### ", "    #", "#### "},
	'6': {" ### ", "#    ", "#### ", "#   #", " ### "},
	'7': {"#####", "    #", "   # ", "  #  ", "  #  "},
	'8': {" ### ", "#   #", " ### ", "#   #", " ### "},
	'9': {" ### ", "#   #", " ####", "    #", " ### "},
	'A': {" ### ", "#   #", "#####", "#   #", "#   #"},
	'B': {"#### ", "#   #", "#### ", "#   #", "#### "},
	'C': {" ####", "#    ", "#    ", "#    ", " ####"},
	'D': {"#### ", "#   #", "#   #", "#   #", "#### "},
	'E': {"#####", "#    ", "#### ", "#    ", "#####"},
	'F': {"#####", "#    ", "#### ", "#    ", "#    "},
	'G': {" ####", "#    ", "#  ##", "#   #", " ### "},
	'H': {"#   #", "#   #", "#####", "#   #", "#   #"},
	'I': {"#####", "  #  ", "  #  ", "  #  ", "#####"},
	'J': {"    #", "    #", "    #", "#   #", " ### "},
	'K': {"#   #", "#  # ", "###  ", "#  # ", "#   #"},
	'L': {"#    ", "#    ", "#    ", "#    ", "#####"},
	'M': {"#   #", "## ##", "# # #", "#   #", "#   #"},
	'N': {"#   #", "##  #", "# # #", "#  ##", "#   #"},
	'O': {" ### ", "#   #", "#   #", "#   #", " ### "},
	'P': {"#### ", "#   #", "#### ", "#    ", "#    "},
	'Q': {" ### ", "#   #", "# # #", "#  # ", " ## #"},
	'R': {"#### ", "#   #", "#### ", "#  # ", "#   #"},
	'S': {" ####", "#    ", " ### ", "    #", "#### "},
	'T': {"#####", "  #  ", "  #  ", "  #  ", "  #  "},
	'U': {"#   #", "#   #", "#   #", "#   #", " ### "},
	'V': {"#   #", "#   #", "#   #", " # # ", "  #  "},
	'W': {"#   #", "#   #", "# # #", "## ##", "#   #"},
	'X': {"#   #", " # # ", "  #  ", " # # ", "#   #"},
	'Y': {"#   #", " # # ", "  #  ", "  #  ", "  #  "},
	'Z': {"#####", "   # ", "  #  ", " #   ", "#####"},
	'-': {"     ", "     ", " ### ", "     ", "     "},
}

// bigWidth is the width of text rendered by bigText at a scale.
func bigWidth(s string, scale int) int {
	n := len([]rune(s))
	if n == 0 {
		return 0
	}
	return n*(5*scale+scale) - scale
}

// bigText renders s in block letters. Scale 1 packs two pixel rows into one
// line with half blocks (3 lines); scale 2 uses full blocks two columns
// wide (5 lines). It returns "" if s has a character the font lacks.
func bigText(s string, scale int) string {
	var rows [5][]string
	for i, r := range strings.ToUpper(s) {
		g, ok := glyphs[r]
		if !ok {
			return ""
		}
		for y := range 5 {
			if i > 0 {
				rows[y] = append(rows[y], " ")
			}
			rows[y] = append(rows[y], g[y])
		}
	}
	var pixels [6]string // a blank sixth row pads the half-block pairs
	for y := range 5 {
		pixels[y] = strings.Join(rows[y], "")
	}
	pixels[5] = strings.Repeat(" ", len(pixels[0]))
	var b strings.Builder
	if scale >= 2 {
		for y := range 5 {
			for _, c := range pixels[y] {
				if c == '#' {
					b.WriteString("██")
				} else {
					b.WriteString("  ")
				}
			}
			if y < 4 {
				b.WriteByte('\n')
			}
		}
		return b.String()
	}
	for y := 0; y < 6; y += 2 {
		top, bottom := pixels[y], pixels[y+1]
		for x := range len(top) {
			switch {
			case top[x] == '#' && bottom[x] == '#':
				b.WriteString("█")
			case top[x] == '#':
				b.WriteString("▀")
			case bottom[x] == '#':
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		if y < 4 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
