# Open a TextGrid in Praat and print its tier count, then each tier's name.
form Count tiers
    sentence path
endform
grid = Read from file: path$
n = Get number of tiers
writeInfoLine: n
for i to n
    name$ = Get tier name: i
    appendInfoLine: name$
endfor
