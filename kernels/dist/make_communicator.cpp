#include <cstdio>
#include <cstdlib>

#include "common/error.hpp"
#include "kernels/dist/communicator.hpp"
#include "kernels/dist/single_communicator.hpp"
#if HALFWAY_WITH_MPI
#include <mpi.h>

#include "kernels/dist/mpi_communicator.hpp"
#endif
#if HALFWAY_WITH_NCCL
#include "kernels/dist/nccl_communicator.hpp"
#endif

namespace halfway::dist {

bool launched_by_mpirun() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(name)) return true;
  return false;
}

void abort_all_ranks(int code) {
  std::fflush(nullptr);  // this rank's last lines before MPI ends the job
#if HALFWAY_WITH_MPI
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

std::unique_ptr<Communicator> make_communicator(Backend backend) {
  if (!launched_by_mpirun()) return std::make_unique<SingleCommunicator>(backend);
#if HALFWAY_WITH_NCCL
  if (backend == Backend::cuda) return std::make_unique<NcclCommunicator>();
#endif
#if HALFWAY_WITH_MPI
  if (backend != Backend::cuda) return std::make_unique<MpiCommunicator>(backend);
  throw Error("launched by mpirun on cuda, but this build has no NCCL (it needs the CUDA toolkit's nccl.h and "
              "libnccl); run on --backend cpu or emu, or without mpirun");
#else
  throw Error("launched by mpirun, but this build has no MPI: install it with "
              "sudo apt-get install openmpi-bin libopenmpi-dev (or tools/install-deps) and reconfigure");
#endif
}

}  // namespace halfway::dist
