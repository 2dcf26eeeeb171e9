#include <cstdio>
int main() { std::puts("moewb"); return 0; }
