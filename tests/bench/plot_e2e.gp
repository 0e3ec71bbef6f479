# plot_e2e.gp -- replies/s against offered load, one line per path.
# Input: columns offered, then replies/s of three paths titled t1, t2, t3
set terminal pngcairo size 800,480 font ",11"
set output outfile
set title "End to end over veth (kxdpgun, 2-core VM)"
set xlabel "offered load (queries/s)"
set ylabel "replies/s"
set key left top
set grid
set format x "%.0s%c"
set format y "%.0s%c"
plot infile using 1:1 with lines dt 2 lc rgb "gray" title "offered", \
     infile using 1:2 with linespoints lw 2 title t1, \
     infile using 1:3 with linespoints lw 2 title t2, \
     infile using 1:4 with linespoints lw 2 title t3
