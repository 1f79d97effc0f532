#include "driver/cli.h"

int main(int argc, char** argv) { return sweep::RunCommandLine(argc, argv); }
