# plot_e2e.gp -- replies/s against offered load, one line per path.
# Input: a header line (offered, then each path's title in quotes), then
# offered and the replies/s of each of npaths paths.
set terminal pngcairo size 800,480 font ",11"
set output outfile
set title "End to end over veth (kxdpgun, 2-core VM)"
set xlabel "offered load (queries/s)"
set ylabel "replies/s"
set key left top noenhanced
set grid
set datafile missing "?"
set format x "%.0s%c"
set format y "%.0s%c"
plot infile using 1:1 with lines dt 2 lc rgb "gray" title "offered", \
     for [i=2:npaths+1] infile using 1:i with linespoints lw 2 title columnheader(i)
