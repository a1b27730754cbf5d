# Installed by the docker-dockerfile starter's Dockerfile into /etc/profile.d/.
export PATH="/opt/tools:$PATH"
if [ -n "$PS1" ]; then
  echo "Welcome to your Outpost workspace (image built from the template's Dockerfile)."
fi
