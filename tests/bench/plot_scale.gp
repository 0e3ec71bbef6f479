# plot_scale.gp -- DPDK worker capacity per lcore against the number of
# names in the table (dp_bench scale, medians of three rounds).
# gnuplot -e "infile='scale.dat'; outfile='report-scale.png'" plot_scale.gp
# infile columns: names, carousel, carousel without prefetch, minimal responder
set terminal pngcairo size 720,420 font "sans,10"
set output outfile
set logscale x
set xlabel "names in the table (A and AAAA entries: twice as many)"
set ylabel "Mqps per worker lcore"
set yrange [0:*]
set grid
set key top right
plot infile using 1:2 with linespoints lw 2 title "carousel", \
     '' using 1:3 with linespoints lw 2 title "carousel, no prefetch", \
     '' using 1:4 with linespoints lw 2 dt 2 title "minimal responder (no table)"
