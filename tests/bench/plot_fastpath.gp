# plot_fastpath.gp -- the fast paths against their baselines, per round:
# DPDK worker capacity (Mqps per lcore) and XDP time per frame (ns).
# Input: dpdk (round reflector responder carousel) and xdp (round
# reflector responder carousel, ns above the floor) data files.
set terminal pngcairo size 900,400 font ",10"
set output outfile
set multiplot layout 1,2
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key below horizontal
set yrange [0:*]
set title "DPDK in-process: worker capacity (higher is better)"
set ylabel "Mqps per lcore"
set xlabel "round"
plot dpdk using 2:xtic(1) title "reflector", '' using 3 title "minimal responder", \
     '' using 4 title "carousel"
set title "XDP in the test runner: time per frame (lower is better)"
set ylabel "ns above the floor"
plot xdp using 2:xtic(1) title "reflector", '' using 3 title "minimal responder", \
     '' using 4 title "carousel"
unset multiplot
