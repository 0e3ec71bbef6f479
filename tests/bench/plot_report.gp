# plot_report.gp -- every ratio of a report run (tests/bench/report.py):
# median as a bar, min–max of the three rounds as an error bar.
# gnuplot -e "infile='summary.dat'; outfile='report-summary.png'" plot_report.gp
# infile columns: index, median, min, max, "label"
set terminal pngcairo size 1200,680 font "sans,9"
set rmargin 26
set bmargin 16
set output outfile
set style fill solid 0.6 border -1
set boxwidth 0.6
set yrange [0:*]
set xtics rotate by -35 left noenhanced
set ylabel "ratio to the same run's baseline"
set grid ytics
set key off
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "gray40"
plot infile using 1:2:xtic(5) with boxes lc rgb "#4a7ebb", \
     '' using 1:2:3:4 with yerrorbars lc rgb "black" pt 0
