set datafile separator ","
set grid
set yrange [0:1]
set ylabel "test accuracy"
set multiplot layout 1,2 title "Lesion of resnet56 trained 10 epochs, accuracy on the first 2000 test images"
set title "random sets of k residual blocks dropped (mean, min-max over 3 draws)"
set xlabel "blocks dropped (k)"
set key center right
plot "docs/experiments/lesion/resnet56_by_k.csv" skip 1 using 1:3:4:5 with yerrorlines lw 2 pt 7 title "resnet56", \
     88.15 / 100.0 with lines dt 2 lw 2 title "plain56, whole network", \
     0.1 with lines dt 3 lc rgb "gray" title "chance"
set title "one block dropped"
set xlabel "block (0 = nearest the input)"
plot "docs/experiments/lesion/resnet56_single.csv" using 1:3 with linespoints lw 2 pt 7 title "resnet56, block dropped", \
     0.930500 with lines dt 2 lw 2 title "resnet56, whole network"
unset multiplot
